"""The CSV tables adamnode writes: a run's ``metrics.csv`` and ``steps.csv``, and the studies' ledgers.

A table is written whole and atomically; numbers are written so they read back exactly (a float by
its ``repr``). ``steps.csv`` alone grows by appended rows while its run trains (``training.steps``),
so its reader leaves out a last row caught halfway.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .atomic import write_text

#: The columns of ``steps.csv``, one row per logged window of training steps.
STEP_COLUMNS = ["epoch", "step", "loss", "nfe_forward", "nfe_backward", "seconds"]


def write_table(path: Path, columns: list[str], rows: list[dict]) -> None:
    """``rows`` under the header ``columns``, replacing ``path`` atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: cell(row[key]) for key in columns})
    write_text(path, buffer.getvalue())


def read_table(path: Path) -> list[dict]:
    """The rows of a table ``write_table`` wrote, every cell an int where it reads as one, else a float."""
    with open(path, newline="", encoding="utf-8") as stream:
        return [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(stream)]


def read_steps(path: Path) -> list[dict]:
    """The rows of a ``steps.csv``: ``epoch`` and ``step`` as integers, the rest as floats.

    A short last row (a running job's append caught halfway) is left out.
    """
    with open(path, newline="", encoding="utf-8") as stream:
        return [{key: int(row[key]) if key in ("epoch", "step") else float(row[key]) for key in STEP_COLUMNS}
                for row in csv.DictReader(stream) if None not in row.values()]


def cell(value) -> str:
    """How a table holds ``value``: a float by its ``repr``, so that it reads back exactly."""
    return repr(float(value)) if isinstance(value, float) else str(value)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)
