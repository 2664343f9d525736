"""Tabulate and plot the regulariser comparison from the four `adamnode compare` folders.

Usage: python docs/results/regularisers/tabulate.py runs/regularisers > table.md
Reads <root>/<variant>/<model>-seed<k>/metrics.csv; writes nfe.png beside this script.
"""

import csv
import statistics
import sys
from pathlib import Path

VARIANTS = ["none", "kinetic-jacobian", "steer", "both"]
MODELS = ["adamnode", "hbnode", "node", "anode"]


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as stream:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(stream)]


def load(root: Path) -> dict:
    runs = {}
    for variant in VARIANTS:
        for model in MODELS:
            runs[variant, model] = [rows(p / "metrics.csv") for p in sorted((root / variant).glob(f"{model}-seed*"))]
    return runs


def mean(values):
    return statistics.fmean(values)


def main(root: Path) -> None:
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
    plot(runs)


def plot(runs: dict) -> None:
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
    fig.savefig(Path(__file__).with_name("nfe.png"), dpi=80)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
