"""Our MNIST runs at the paper's settings beside the reference code's measured figures (SPEC section 6).

    python -m adamnode.studies.anchors runs/paper-s7 runs/paper-anode-s7 runs/paper-node-s7

The reference code, run unchanged, was measured on MNIST at batch 32, dopri5 at tol 1e-4 with the
adjoint, over the first 400 training steps from seed 7: NFE-F and NFE-B per batch over steps
21-400 and the mean loss over the last 20 steps. `--preset paper` trains with those settings; this
script takes the same figures from each run's steps.csv (which must log every 10 steps, so that
the windows fall on steps 20 and 380) and sets them beside the reference's. The two codes draw
their batches and initial weights differently, so one seed each is a check of levels, not of
digits.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Sequence

from ..reports import find_runs
from ..store import STEPS_FILE
from .ledger import one_line_errors

PROG = "python -m adamnode.studies.anchors"

#: The reference code's figures (SPEC section 6): model -> (NFE-F, NFE-B, loss over the last 20 steps).
REFERENCE = {"adamnode": (23.1, 23.9, 0.426), "hbnode": (20.2, 25.1, 0.387), "ghbnode": (25.0, 27.6, 0.433),
             "node": (29.8, 54.9, 0.510), "anode": (23.6, 41.1, 0.401), "sonode": (22.5, 24.8, 0.460)}
#: The settings the reference figures were measured at, as our runs' config.json names them, and
#: the logging interval that puts window ends on steps FIRST and LAST - LATE.
SETTINGS = {"task": "mnist", "batch_size": 32, "method": "dopri5", "tol": 1e-4, "gradient": "adjoint", "log_every": 10}
FIRST, LAST, LATE, EVERY = 20, 400, 20, 10


def figures(steps: list[dict]) -> tuple[float, float, float]:
    """NFE-F and NFE-B per batch over steps FIRST+1..LAST and the loss over the last LATE of them."""
    logged = {row["step"]: row for row in steps}
    windows = [logged[end] for end in range(FIRST + EVERY, LAST + 1, EVERY)]
    late = [logged[end]["loss"] for end in range(LAST - LATE + EVERY, LAST + 1, EVERY)]
    return (statistics.fmean(row["nfe_forward"] for row in windows),
            statistics.fmean(row["nfe_backward"] for row in windows), statistics.fmean(late))


def main(folders: list[Path]) -> None:
    print("| model | seed | NFE-F | reference (seed 7) | NFE-B | reference | loss, last 20 steps | reference |")
    print("|---" * 8 + "|")
    for folder in folders:
        for run in find_runs(folder):
            settings = _settings(run.settings)
            differing = {key: settings.get(key) for key, value in SETTINGS.items() if settings.get(key) != value}
            if differing:
                raise SystemExit(f"{PROG}: {run.path} differs from the reference's settings in {differing}")
            if run.model not in REFERENCE:
                print(f"(skipped {run.path}: the reference was not measured for {run.model})")
                continue
            if not any(row["step"] == LAST for row in run.steps):
                print(f"(skipped {run.path}: it has not reached step {LAST})")
                continue
            ours, theirs = figures(run.steps), REFERENCE[run.model]
            print(f"| {run.model} | {run.seed} | " + " | ".join(f"{a:.{d}f} | {b:.{d}f}" for a, b, d in
                                                            zip(ours, theirs, (1, 1, 3))) + " |")


def _settings(saved: dict) -> dict:
    """A run's saved settings, with 0.1.0's ``adjoint`` flag read as the gradient path it chose."""
    if "adjoint" in saved and "gradient" not in saved:
        return {**saved, "gradient": "adjoint" if saved["adjoint"] else "direct"}
    return saved


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help=f"comparison or run folders with {STEPS_FILE}")
    with one_line_errors(PROG):
        main(parser.parse_args(argv).folders)


if __name__ == "__main__":
    cli()
