"""The claims' verdict table from one or more MNIST comparison folders (their complete runs only).

    python docs/results/claims/collect.py runs/mnist-a runs/mnist-b > docs/results/claims/verdict.md
    python docs/results/claims/collect.py --plots docs/results/claims/mnist runs/mnist-a runs/mnist-b

C1 "AdamNODE reaches the lowest training loss": each model's final training loss (the mean over
its last epoch's batches), mean and sample standard deviation over seeds, and a 95 % percentile
bootstrap interval and Welch's t interval of AdamNODE's mean minus the best other model's; a claim
holds (or is refuted) only where both exclude 0 on the same side. C2 "fewer evaluations":
NFE-F and NFE-B per training batch, the same way. Where the runs logged steps (steps.csv), C1 is
also judged on the loss over the last LATE_STEPS steps. A verdict needs at least 3 seeds a model;
fewer are tabulated and called "not established". ``--plots DIR`` also draws the complete runs'
per-step curves (steps.csv: training loss over each logged window, NFE-F, NFE-B; mean over seeds with
a band of one standard deviation) into DIR.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from adamnode.reports import find_runs
from adamnode.reports.plots import plot_curves
from adamnode.reports.intervals import bootstrap_difference, welch_difference

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


def main(folders: list[str], plots: Path | None) -> None:
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    seeds: dict[str, list[int]] = defaultdict(list)
    complete = [record for folder in folders for record in find_runs(folder) if record.complete]
    runs = [(record.model, record.seed) for record in complete]
    twice = sorted({run for run in runs if runs.count(run) > 1})
    if twice:
        # A seed counted twice would narrow the spread and the intervals.
        raise SystemExit(f"collect.py: {', '.join(f'{model} seed {seed}' for model, seed in twice)} completed in "
                         "more than one folder; give each run once")
    if plots is not None and complete:
        plots.mkdir(parents=True, exist_ok=True)
        for key, label, log in CURVES:
            plot_curves(complete, key, label, plots / f"steps_{key}.png", log=log, along="step")
    for record in complete:
        last = record.history[-1]
        seeds[record.model].append(record.seed)
        for key, _, _ in COLUMNS:
            column = f"test_{record.metric}" if key == "test_metric" else key
            values[record.model][key].append(float(last[column]))
        if record.steps:
            end = max(row["step"] for row in record.steps)
            values[record.model]["late_loss"].append(
                statistics.fmean(row["loss"] for row in record.steps if row["step"] > end - LATE_STEPS))
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
        verdict({model: kept for model, kept in values.items() if key in kept}, key, label, claim)


def verdict(values, key: str, label: str, claim: str) -> None:
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="comparison folders")
    parser.add_argument("--plots", type=Path, help="folder for the per-step curves")
    arguments = parser.parse_args()
    main(arguments.folders, arguments.plots)
