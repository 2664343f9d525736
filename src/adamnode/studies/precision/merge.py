"""Merge per-model precision studies (one ``adamnode precision --models M --out DIR/M`` each) into one folder.

    python -m adamnode.studies.precision.merge OUT STUDY [STUDY ...]

Each study must have run with the same command apart from ``--models`` and ``--out``; the merged
record keeps the first study's settings, lists every study's command and sums their times, then
the table and the diagrams are drawn from it as ``adamnode report OUT`` would.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from ..ledger import one_line_errors
from .record import read_precision, write_precision

PROG = "python -m adamnode.studies.precision.merge"


def merge(records: list[dict]) -> dict:
    """One record of the studies' ``records``: the first one's settings, their commands, rows and references."""
    settings = dict(records[0]["settings"])
    settings["command"] = " ; ".join(record["settings"]["command"] for record in records)
    settings["study_seconds"] = round(sum(record["settings"]["study_seconds"] for record in records), 1)
    settings["complete"] = all(record["settings"]["complete"] for record in records)
    settings["models"] = [reference["model"] for record in records for reference in record["references"]]
    settings.pop("arguments", None)  # each study's own; the merged one is not resumed
    return {"references": [r for record in records for r in record["references"]],
            "rows": [r for record in records for r in record["rows"]], "settings": settings}


def main(out: Path, studies: list[Path]) -> None:
    merged = merge([read_precision(folder) for folder in studies])
    print(write_precision(merged, out), end="")


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the merged study's folder")
    parser.add_argument("studies", nargs="+", type=Path, help="the per-model study folders")
    arguments = parser.parse_args(argv)
    with one_line_errors(PROG):
        main(arguments.out, arguments.studies)


if __name__ == "__main__":
    cli()
