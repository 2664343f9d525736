"""Ratios of evaluations and time between solver paths at equal gradient error, from a precision study.

    python -m adamnode.studies.precision.ratios docs/results/precision/spheres

For each pair of paths and each level of gradient error: per model, the cheapest point of each
path whose gradient error is at most the level, and the ratios of their evaluations (forward plus
backward) and of their milliseconds per step; "-" where a path reaches no such point.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from ...store import PRECISION_RECORD
from ..ledger import one_line_errors
from .record import read_precision

PROG = "python -m adamnode.studies.precision.ratios"
LEVELS = (1e-2, 1e-3, 1e-4)
PAIRS = (("default", "reference"), ("default", "warm"), ("direct", "default"), ("direct", "torchdyn"),
         ("direct", "plain-direct"))


def cheapest(rows: list[dict], model: str, path: str, level: float) -> tuple[float, float] | None:
    """(evaluations, ms per step) of ``model``'s cheapest ``path`` point with gradient error <= ``level``."""
    points = [row for row in rows if row["model"] == model and row["path"] == path and row["grad_error"] <= level]
    if not points:
        return None
    best = min(points, key=lambda row: row["nfe_forward"] + row["nfe_backward"])
    return best["nfe_forward"] + best["nfe_backward"], best["ms_per_step"]


def ratios(record: dict) -> list[str]:
    """The lines of the ratio table of one study's ``record``."""
    rows = [row for row in record["rows"] if row["status"] == "ok"]
    models = list(dict.fromkeys(row["model"] for row in rows))
    lines = []
    for first, second in PAIRS:
        lines += ["", f"{first} / {second} (NFE ratio, time ratio) at gradient error <= level"]
        for level in LEVELS:
            cells = []
            for model in models:
                ours, theirs = cheapest(rows, model, first, level), cheapest(rows, model, second, level)
                cells.append(f"{model}: " + ("-" if not ours or not theirs else
                                             f"{ours[0] / theirs[0]:.2f}/{ours[1] / theirs[1]:.2f}"))
            lines.append(f"  <= {level:g}: " + ", ".join(cells))
    return lines


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help=f"a precision study's folder (or its {PRECISION_RECORD})")
    study = parser.parse_args(argv).study
    with one_line_errors(PROG):
        print("\n".join(ratios(read_precision(study.parent if study.suffix == ".json" else study))))


if __name__ == "__main__":
    cli()
