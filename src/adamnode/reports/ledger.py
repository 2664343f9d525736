"""Ledgers: a study's finished runs as one CSV row each, kept where the run folders are not.

Run folders do not outlive the machine they ran on, and a study's seeds are often run in different
sessions. What outlives them is a ledger: per run, the columns that say which run it was (its
model or setting, its seed) and the figures the study reports. A study adds runs by reading its
ledger back, adding the new runs' rows and writing it whole, and pools ledgers with run folders when
it tabulates. A ledger is written atomically: it may be the only copy of runs long gone.

A study names its columns with their types (``int``, ``float``, ``bool`` or ``str``); a cell reads
back as that type, an empty cell as ``None`` (a figure that run did not measure).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

from ..training.errors import ConfigError
from ..training.metrics import write_metrics

#: A ledger's columns in order, each with the type its cells read back as.
Columns = Mapping[str, type]


def write_ledger(path: Path, columns: Columns, rows: Sequence[Mapping]) -> None:
    write_metrics(Path(path), list(columns), [{key: "" if row[key] is None else row[key] for key in columns}
                                              for row in rows])


def read_ledger(path: Path, columns: Columns) -> list[dict]:
    """The rows of the ledger at ``path``, whose header must name exactly ``columns``."""
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            header = reader.fieldnames or []
            if sorted(header) != sorted(columns):
                raise ConfigError(f"{path} is not a ledger of this study: its columns are "
                                  f"{', '.join(header) or 'none'}, the study's {', '.join(columns)}; "
                                  "give this study's ledger")
            return [_row(path, line, columns, row) for line, row in enumerate(reader, start=2)]
    except OSError as error:
        raise ConfigError(f"cannot read the ledger {path} ({error.strerror}); check the path") from None


def repeated(rows: Sequence[Mapping], identity: Sequence[str]) -> list[tuple]:
    """The runs (``identity`` columns' values) that occur in more than one row, sorted.

    A run counted twice narrows the spread and the intervals of every study that pools it.
    """
    counts = Counter(tuple(row[key] for key in identity) for row in rows)
    return sorted(run for run, count in counts.items() if count > 1)


def _row(path: Path, line: int, columns: Columns, row: dict) -> dict:
    # csv.DictReader files surplus cells under None and fills missing ones with None.
    if None in row or None in row.values():
        raise ConfigError(f"{path} line {line} has {'more' if None in row else 'fewer'} cells than columns; "
                          "repair or remove that line")
    return {key: _cell(path, line, key, kind, row[key]) for key, kind in columns.items()}


def _cell(path: Path, line: int, key: str, kind: type, text: str):
    if text == "":
        return None
    if kind is bool and text in ("True", "False"):
        return text == "True"
    try:
        if kind is not bool:
            return kind(text)
    except ValueError:
        pass
    raise ConfigError(f"{path} line {line}: {key} = {text!r} does not read as {kind.__name__}; "
                      "repair or remove that line")
