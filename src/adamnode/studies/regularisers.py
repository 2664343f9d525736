"""Tabulate and plot the regulariser comparison from the four ``adamnode compare`` folders.

    python -m adamnode.studies.regularisers runs/regularisers > table.md

Reads the runs of ``ROOT/<variant>`` (one comparison per variant) through ``adamnode.reports``;
``--plots DIR`` also draws nfe.png into DIR.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Sequence

from ..store import atomic_write
from ..reports import find_runs
from .ledger import one_line_errors

PROG = "python -m adamnode.studies.regularisers"
VARIANTS = ["none", "kinetic-jacobian", "steer", "both"]
MODELS = ["adamnode", "hbnode", "node", "anode"]


def load(root: Path) -> dict:
    """(variant, model) -> each seed's metrics history, in seed order."""
    runs: dict = {(variant, model): [] for variant in VARIANTS for model in MODELS}
    for variant in VARIANTS:
        for run in sorted(find_runs(root / variant), key=lambda run: run.seed):
            if run.model in MODELS:
                runs[variant, run.model].append(run.history)
    return runs


def mean(values):
    return statistics.fmean(values)


def main(root: Path, plots: Path | None = None) -> None:
    runs = load(root)
    print("| model | variant | NFE-F train | NFE-B train | NFE-F test (t1, no penalty) | NFE-F test, last epoch "
          "| train loss | test accuracy (min-max) | penalty | s/epoch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for model in MODELS:
        base = None
        for variant in VARIANTS:
            seeds = runs[variant, model]
            # Per batch, averaged over every epoch of training, then over seeds.
            nfe_f = mean([mean([r["nfe_forward"] for r in s]) for s in seeds])
            nfe_b = mean([mean([r["nfe_backward"] for r in s]) for s in seeds])
            test_f = mean([mean([r["test_nfe_forward"] for r in s]) for s in seeds])
            test_last = mean([s[-1]["test_nfe_forward"] for s in seeds])
            loss = mean([s[-1]["train_loss"] for s in seeds])
            accs = [s[-1]["test_accuracy"] for s in seeds]
            penalty = mean([s[-1]["penalty"] for s in seeds])
            seconds = mean([mean([r["seconds"] for r in s]) for s in seeds])
            if base is None:
                base = (nfe_f, nfe_b, test_f)
                ratio = lambda value, ref: ""
            else:
                ratio = lambda value, ref: f" ({value / ref:.2f}x)"
            print(f"| {model} | {variant} | {nfe_f:.1f}{ratio(nfe_f, base[0])} | {nfe_b:.1f}{ratio(nfe_b, base[1])} "
                  f"| {test_f:.1f}{ratio(test_f, base[2])} | {test_last:.1f} | {loss:.4f} "
                  f"| {mean(accs):.3f} ({min(accs):.3f}-{max(accs):.3f}) | {penalty:.4f} | {seconds:.2f} |")
    if plots is not None:
        plot(runs, plots / "nfe.png")


def plot(runs: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(MODELS), figsize=(4 * len(MODELS), 9), sharex=True)
    for column, model in enumerate(MODELS):
        for variant in VARIANTS:
            seeds = runs[variant, model]
            epochs = [r["epoch"] for r in seeds[0]]
            for row, key in enumerate(["nfe_forward", "nfe_backward", "test_nfe_forward"]):
                values = [mean([s[i][key] for s in seeds]) for i in range(len(epochs))]
                axes[row, column].plot(epochs, values, label=variant)
        axes[0, column].set_title(model)
    for row, label in enumerate(["NFE-F per batch (train)", "NFE-B per batch (train)", "NFE-F per batch (test)"]):
        axes[row, 0].set_ylabel(label)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("spheres, mean of 3 seeds")
    fig.tight_layout()
    atomic_write(path, lambda stream: fig.savefig(stream, format="png", dpi=80))
    plt.close(fig)


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the folder holding one comparison per variant")
    parser.add_argument("--plots", type=Path, help="folder to draw nfe.png into")
    arguments = parser.parse_args(argv)
    with one_line_errors(PROG):
        main(arguments.root, arguments.plots)


if __name__ == "__main__":
    cli()
