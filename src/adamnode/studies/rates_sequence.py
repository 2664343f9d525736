"""AdamNODE's rates on a sequence task (F-16 plane vibration): one row per (beta1, beta2, learned).

    python -m adamnode.studies.rates_sequence runs/f16 --ledger docs/results/rates/f16-runs.csv
    python -m adamnode.studies.rates_sequence docs/results/rates/f16-runs.csv

SOURCE: comparisons, folders of comparisons, or a ledger (.csv) that ``--ledger`` wrote. Per
setting: the final epoch's train loss, test next-step MSE and test forecast MSE (mean +- sample sd
over seeds); then each setting minus the paper's MNIST pair (``PAPER_PAIR``, AdamNODE's default when
the study ran), per seed (same batches and initial network but for the rates) with Welch's and the
paired t interval.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from ..reports import find_runs
from .intervals import paired_difference, welch_difference
from .ledger import FLAG, FRACTION, NON_NEGATIVE, SEED, read_ledger, run_study, write_ledger
from .rates import comparisons, refuse_repeats, setting

PROG = "python -m adamnode.studies.rates_sequence"

FIGURES = ("train_loss", "test_mse", "test_forecast_mse")
#: The setting every other is measured against: the paper's MNIST rates, (beta1, beta2, learned) =
#: (sigmoid(-5), sigmoid(5), learned), pinned here because AdamNODE's default beta1 has since changed.
PAPER_PAIR = (0.0066928509242848554, 0.9933071490757153, True)
#: A ledger's columns and their domains (``adamnode.studies.ledger``): the rates, from 0 to 1, and
#: the figures, mean squared errors.
LEDGER = {"beta1": FRACTION, "beta2": FRACTION, "learned": FLAG, "seed": SEED, **{key: NON_NEGATIVE for key in FIGURES}}


def main(sources: list[Path], ledger: Path | None) -> None:
    rows = [row for source in sources if source.suffix == ".csv" for row in read_ledger(source, LEDGER)]
    for comparison in (found for source in sources if source.suffix != ".csv" for found in comparisons(source)):
        for run in find_runs(comparison):
            if run.model == "adamnode" and run.complete:
                beta1, beta2, learned = setting(run)
                last = run.history[-1]
                rows.append({"beta1": beta1, "beta2": beta2, "learned": learned, "seed": run.seed,
                             **{key: float(last[key]) for key in FIGURES}})
    refuse_repeats(rows, ("beta1", "beta2", "learned", "seed"), PROG)
    groups: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for row in rows:
        groups[row["beta1"], row["beta2"], row["learned"]][row["seed"]] = row
    if ledger is not None:
        write_ledger(ledger, LEDGER, [row for _, kept in sorted(groups.items()) for _, row in sorted(kept.items())])
    print("| beta1 | beta2 | learned | seeds | " + " | ".join(FIGURES) + " |")
    print("|---" * (4 + len(FIGURES)) + "|")
    for (beta1, beta2, learned), kept in sorted(groups.items()):
        print(f"| {beta1:.4f} | {beta2:.4f} | {'yes' if learned else 'no'} | {', '.join(map(str, sorted(kept)))} | "
              + " | ".join(cell([row[key] for row in kept.values()]) for key in FIGURES) + " |")
    base = groups.get(PAPER_PAIR, {})
    for pair, kept in sorted(groups.items()):
        seeds = sorted(set(kept) & set(base))
        if kept is base or len(seeds) < 2:
            continue
        print(f"\nbeta1 {pair[0]:.4g}, beta2 {pair[1]:.4g} minus the default, seeds {seeds}:")
        for key in FIGURES:
            ours, theirs = [kept[seed][key] for seed in seeds], [base[seed][key] for seed in seeds]
            welch, paired = welch_difference(ours, theirs), paired_difference(ours, theirs)
            print(f"  {key}: {', '.join(f'{a - b:+.3f}' for a, b in zip(ours, theirs))}; "
                  f"Welch [{welch[0]:.3f}, {welch[1]:.3f}], paired [{paired[0]:.3f}, {paired[1]:.3f}]")


def cell(values: list[float]) -> str:
    spread = f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""
    return f"{statistics.fmean(values):.4f}{spread}"


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path, help="comparisons, folders of comparisons, ledgers (.csv)")
    parser.add_argument("--ledger", type=Path, help="write every counted run's figures to this .csv")
    arguments = parser.parse_args(argv)
    run_study(PROG, main, arguments.sources, ledger=arguments.ledger)


if __name__ == "__main__":
    cli()
