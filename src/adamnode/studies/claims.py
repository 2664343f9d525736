"""The claims' verdict table from MNIST comparison folders (their complete runs only) and earlier runs' ledgers.

    python -m adamnode.studies.claims runs/mnist-a runs/mnist-b > docs/results/claims/verdict.md
    python -m adamnode.studies.claims --plots docs/results/claims/mnist runs/mnist-a runs/mnist-b
    python -m adamnode.studies.claims --ledger docs/results/claims/paper-runs.csv \
        docs/results/claims/paper-runs.csv runs/paper-s8

C1 "AdamNODE reaches the lowest training loss": each model's final training loss (the mean over
its last epoch's batches), mean and sample standard deviation over seeds, and a 95 % percentile
bootstrap interval and Welch's t interval of AdamNODE's mean minus the best other model's; a claim
holds (or is refuted) only where both exclude 0 on the same side. C2 "fewer evaluations":
NFE-F and NFE-B per training batch, the same way. Where the runs logged steps (steps.csv), C1 is
also judged on the loss over the last LATE_STEPS steps. A verdict needs at least 3 seeds a model;
fewer are tabulated and called "not established". Under each verdict, for information, the paired
t interval over the seeds both models ran (one seed's runs see the same batches). ``--plots DIR``
also draws the complete runs' per-step curves (steps.csv: training loss over each logged window,
NFE-F, NFE-B; mean over seeds with a band of one standard deviation) into DIR.

Run folders do not outlive the machine they ran on; a run's figures do, as a row of a ledger
(``--ledger FILE.csv`` writes one row per run counted, from folders and ledgers alike). A ``.csv``
among the sources is such a ledger: seeds run in different sessions are pooled that way.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from ..reports import find_runs
from ..reports.plots import plot_curves
from .intervals import bootstrap_difference, paired_difference, welch_difference
from .ledger import NAME, NON_NEGATIVE, SEED, read_ledger, repeated, run_study, write_ledger

PROG = "python -m adamnode.studies.claims"

MIN_SEEDS = 3
#: (metrics.csv column, header, digits); "test_metric" stands for the task's test metric.
COLUMNS = (("train_loss", "train loss", 4), ("test_metric", "test metric", 4), ("nfe_forward", "NFE-F", 1),
           ("nfe_backward", "NFE-B", 1))


#: With steps.csv: the loss late in training (the mean of the logged windows over the last
#: LATE_STEPS steps) beside the epoch's mean, which with one epoch weighs the early, fast fall as
#: much as where training got to.
LATE_STEPS = 50
LATE_COLUMN = ("late_loss", f"loss, last {LATE_STEPS} steps", 4)
#: (steps.csv column, axis label, log scale)
CURVES = (("loss", "training loss (mean over each logged window)", True), ("nfe_forward", "NFE-F per batch", False),
          ("nfe_backward", "NFE-B per batch", False))


#: A ledger's columns and their domains (``adamnode.studies.ledger``): a run's identity and its
#: figures, losses and counts that cannot be negative (late_loss empty where the run logged no steps).
LEDGER = {"model": NAME, "seed": SEED, **{key: NON_NEGATIVE for key, _, _ in COLUMNS},
          LATE_COLUMN[0]: replace(NON_NEGATIVE, optional=True)}


def main(sources: list[str], plots: Path | None, ledger: Path | None) -> None:
    complete = [run for source in sources if not source.endswith(".csv") for run in find_runs(source) if run.complete]
    rows = [row for source in sources if source.endswith(".csv") for row in read_ledger(Path(source), LEDGER)]
    rows += [figures(run) for run in complete]
    twice = repeated(rows, ("model", "seed"))
    if twice:
        # A seed counted twice would narrow the spread and the intervals.
        raise SystemExit(f"{PROG}: {', '.join(f'{model} seed {seed}' for model, seed in twice)} completed in "
                         "more than one source; give each run once")
    if plots is not None and complete:
        plots.mkdir(parents=True, exist_ok=True)
        for key, label, log in CURVES:
            plot_curves(complete, key, label, plots / f"steps_{key}.png", log=log, along="step")
    if ledger is not None:
        write_ledger(ledger, LEDGER, sorted(rows, key=lambda row: (row["model"], row["seed"])))
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    seeds: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        seeds[row["model"]].append(row["seed"])
        for key in list(LEDGER)[2:]:
            if row[key] is not None:
                values[row["model"]][key].append(row[key])
    if not values:
        print("No complete runs yet.")
        return
    columns = COLUMNS + ((LATE_COLUMN,) if any("late_loss" in kept for kept in values.values()) else ())
    print("| model | seeds | " + " | ".join(label for _, label, _ in columns) + " |")
    print("|---" * (2 + len(columns)) + "|")
    for model, kept in values.items():
        cells = []
        for key, _, digits in columns:
            data = kept.get(key, [])
            spread = f" ± {statistics.stdev(data):.{digits}f}" if len(data) > 1 else ""
            cells.append(f"{statistics.fmean(data):.{digits}f}{spread}" if data else "—")
        print(f"| {model} | {', '.join(map(str, sorted(seeds[model])))} | " + " | ".join(cells) + " |")
    print()
    claims = (("train_loss", "training loss", "C1"), ("nfe_forward", "NFE-F", "C2"), ("nfe_backward", "NFE-B", "C2"))
    if len(columns) > len(COLUMNS):
        claims += (("late_loss", f"training loss over the last {LATE_STEPS} steps", "C1"),)
    for key, label, claim in claims:
        verdict({model: kept for model, kept in values.items() if key in kept}, key, label, claim, rows)


def verdict(values, key: str, label: str, claim: str, rows: list[dict]) -> None:
    if "adamnode" not in values or len(values) < 2:
        print(f"{claim} ({label}): not established: AdamNODE and at least one other model need complete runs.")
        return
    others = {model: columns[key] for model, columns in values.items() if model != "adamnode"}
    best = min(others, key=lambda model: statistics.fmean(others[model]))
    ours = values["adamnode"][key]
    counted = min(len(ours), len(others[best]))
    bootstrap = bootstrap_difference(ours, others[best])
    welch = welch_difference(ours, others[best]) if counted >= 2 else None
    # The claims say AdamNODE's value is the lowest: intervals below 0 support them, above 0 refute
    # them. Both must agree: with 3 seeds the bootstrap's interval is too narrow, Welch's is not.
    intervals = [bootstrap] + ([welch] if welch is not None else [])
    if counted < MIN_SEEDS:
        outcome = f"not established ({counted} seed(s) each, {MIN_SEEDS} needed)"
    elif all(high < 0 for _, high in intervals):
        outcome = "holds (AdamNODE lower)"
    elif all(low > 0 for low, _ in intervals):
        outcome = "refuted (AdamNODE higher)"
    else:
        outcome = "not established (an interval contains 0)"
    shown = f"bootstrap [{bootstrap[0]:.3g}, {bootstrap[1]:.3g}]" + (
        f", Welch [{welch[0]:.3g}, {welch[1]:.3g}]" if welch is not None else "")
    print(f"{claim} ({label}): AdamNODE {statistics.fmean(ours):.4g} against the best other model, {best}, "
          f"{statistics.fmean(others[best]):.4g}; difference 95 % intervals {shown}: {outcome}")
    # Beside the verdict, not part of it: runs of one seed saw the same batches, so their difference
    # cancels what the seed does to both; the rule above was fixed before any run and stays the verdict.
    by_run = {(row["model"], row["seed"]): row[key] for row in rows if row[key] is not None}
    pairs = sorted(seed for model, seed in by_run if model == "adamnode" and (best, seed) in by_run)
    if len(pairs) >= 2:
        paired_ours, paired_theirs = ([by_run[model, seed] for seed in pairs] for model in ("adamnode", best))
        differences = [a - b for a, b in zip(paired_ours, paired_theirs)]
        low, high = paired_difference(paired_ours, paired_theirs)
        print(f"    paired by seed ({len(pairs)} pairs): differences {', '.join(f'{d:+.3g}' for d in differences)}; "
              f"paired t 95 % [{low:.3g}, {high:.3g}]")


def figures(run) -> dict:
    """A complete run's row of a ledger: its last epoch's figures and, with steps.csv, its late loss."""
    last = run.history[-1]
    row = {"model": run.model, "seed": run.seed, "late_loss": None}
    for key, _, _ in COLUMNS:
        row[key] = float(last[f"test_{run.metric}" if key == "test_metric" else key])
    if run.steps:
        end = max(step["step"] for step in run.steps)
        row["late_loss"] = statistics.fmean(step["loss"] for step in run.steps if step["step"] > end - LATE_STEPS)
    return row


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="comparison folders, and ledgers (.csv) of earlier runs")
    parser.add_argument("--plots", type=Path, help="folder for the per-step curves (of the folders' runs)")
    parser.add_argument("--ledger", type=Path, help="write every counted run's figures to this .csv")
    arguments = parser.parse_args(argv)
    run_study(PROG, main, arguments.sources, arguments.plots, ledger=arguments.ledger)


if __name__ == "__main__":
    cli()
