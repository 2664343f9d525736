"""Ledgers: a study's finished runs as one CSV row each, kept where the run folders are not.

Run folders do not outlive the machine they ran on, and a study's seeds are often run in different
sessions. What outlives them is a ledger: per run, the columns that say which run it was (its
model or setting, its seed) and the figures the study reports. A study adds runs by reading its
ledger back, adding the new runs' rows and writing it whole, and pools ledgers with run folders when
it tabulates. A ledger is written atomically: it may be the only copy of runs long gone.

A study declares each column's ``Domain``: its type (``int``, ``float``, ``bool`` or ``str``),
its range and whether a cell may be empty (``None``: a figure that run did not measure). A ledger
is edited by hand and pooled into published means, so it is read strictly: a cell reads back only
in the form the writer gives it (not ``1_0.7``, which Python's ``float`` takes for 10.7, nor
`` 7``), floats are finite unless declared otherwise, and every failure is one line naming the
file, the line and the column. A UTF-8 byte-order mark, which spreadsheets put before the header,
is skipped.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from ..errors import ConfigError, DataError
from ..store import write_table

#: What ``write_ledger`` writes: ``str(int)``, ``repr(float)`` (``nan``, ``inf`` where allowed).
_INTEGER = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|-?inf|nan")


@dataclass(frozen=True)
class Domain:
    """What a ledger column's cells may hold."""

    kind: type  # int, float, bool or str
    low: float | None = None  # the least value allowed (numbers)
    high: float | None = None  # the greatest value allowed (numbers)
    optional: bool = False  # an empty cell (a figure not measured) reads as None
    finite: bool = True  # floats: NaN and infinities are refused

    def describe(self) -> str:
        if self.kind is bool:
            return "True or False"
        if self.kind is str:
            return "a text without surrounding spaces"
        what = "an integer" if self.kind is int else "a finite number" if self.finite else "a number"
        if self.low is not None and self.high is not None:
            return f"{what} from {self.low:g} to {self.high:g}"
        if self.low is not None:
            return f"{what} of at least {self.low:g}"
        return what if self.high is None else f"{what} of at most {self.high:g}"

    def read(self, text: str):
        """The cell's value; ``ValueError`` if ``text`` is not in the domain."""
        if text == "":
            if self.optional:
                return None
            raise ValueError("empty")
        if self.kind is bool:
            if text not in ("True", "False"):
                raise ValueError(text)
            return text == "True"
        if self.kind is str:
            if text != text.strip():
                raise ValueError(text)
            return text
        pattern = _INTEGER if self.kind is int else _FLOAT
        if not pattern.fullmatch(text):
            raise ValueError(text)
        value = self.kind(text)
        if (self.kind is float and self.finite and not math.isfinite(value)) or math.isnan(value) \
                or (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(text)
        return value


#: The domains the studies use.
NAME = Domain(str)
SEED = Domain(int, low=0)
FLAG = Domain(bool)
#: A rate such as Adam's beta, or an accuracy: from 0 to 1.
FRACTION = Domain(float, low=0, high=1)
#: A loss, an error, an evaluation count, a norm.
NON_NEGATIVE = Domain(float, low=0)

#: A ledger's columns in order, each with its domain.
Columns = Mapping[str, Domain]


def check_ledger_path(path: Path) -> None:
    """Refuse a ledger that could not be written, before a study spends its time measuring."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write the ledger {path}: the folder {path.parent} does not exist; create it "
                          "or give another path")
    if path.is_dir():
        raise ConfigError(f"cannot write the ledger {path}: it is a folder; give a file path ending in .csv")


@contextmanager
def one_line_errors(prog: str) -> Iterator[None]:
    """A study's command: bad input (a ``ConfigError``: a bad source, a damaged ledger or record; a
    ``DataError``: missing or damaged data) ends it as one line naming ``prog`` and a failing exit
    status, not a traceback."""
    try:
        yield
    except (ConfigError, DataError) as error:
        raise SystemExit(f"{prog}: {error}") from None


def run_study(prog: str, study: Callable[..., None], *inputs, ledger: Path | None) -> None:
    """``study(*inputs, ledger)`` as a command (``one_line_errors``); an unwritable ledger is refused
    before the study spends its time measuring."""
    with one_line_errors(prog):
        if ledger is not None:
            check_ledger_path(ledger)
        study(*inputs, ledger)


def write_ledger(path: Path, columns: Columns, rows: Sequence[Mapping]) -> None:
    path = Path(path)
    check_ledger_path(path)
    try:
        write_table(path, list(columns), [{key: "" if row[key] is None else row[key] for key in columns}
                                          for row in rows])
    except OSError as error:
        raise ConfigError(f"cannot write the ledger {path} ({error.strerror}); give another path") from None


def read_ledger(path: Path, columns: Columns) -> list[dict]:
    """The rows of the ledger at ``path``, whose header must name exactly ``columns``."""
    try:
        # utf-8-sig: a byte-order mark before the header would otherwise become part of its first name.
        with open(path, newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            _check_header(path, reader.fieldnames or [], columns)
            # line_num: the file's line, also where blank lines (which the reader skips) come before it.
            return [_row(path, reader.line_num, columns, row) for row in reader]
    except OSError as error:
        raise ConfigError(f"cannot read the ledger {path} ({error.strerror}); check the path") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not a ledger: byte {error.start} is not UTF-8 text; give this study's "
                          "ledger (a CSV file)") from None
    except csv.Error as error:
        raise ConfigError(f"{path} is not a ledger: it is not a CSV file ({error}); give this study's ledger") from None


def repeated(rows: Sequence[Mapping], identity: Sequence[str]) -> list[tuple]:
    """The runs (``identity`` columns' values) that occur in more than one row, sorted.

    A run counted twice narrows the spread and the intervals of every study that pools it.
    """
    counts = Counter(tuple(row[key] for key in identity) for row in rows)
    return sorted(run for run, count in counts.items() if count > 1)


def _check_header(path: Path, header: list[str], columns: Columns) -> None:
    """Exactly the study's columns, in any order (a ledger reordered by hand is still the same)."""
    lacking = [name for name in columns if name not in header]
    extra = [name for name in header if name not in columns]
    twice = sorted({name for name in header if header.count(name) > 1})
    if not (lacking or extra or twice):
        return
    problems = ([f"it lacks {_names(lacking)}"] if lacking and header else ["it has no header"] if lacking else []) \
        + ([f"it has {_names(extra)} too"] if extra else []) + ([f"it names {_names(twice)} twice"] if twice else [])
    raise ConfigError(f"{path} is not a ledger of this study: {'; '.join(problems)} (the study's columns are "
                      f"{', '.join(columns)}); give this study's ledger")


def _names(names: list[str]) -> str:
    """Column names, quoted where plain text would hide a difference (a space, an invisible character)."""
    return ", ".join(name if name and name.isprintable() and name == name.strip() else repr(name) for name in names)


def _row(path: Path, line: int, columns: Columns, row: dict) -> dict:
    # csv.DictReader files surplus cells under None and fills missing ones with None.
    if None in row or None in row.values():
        raise ConfigError(f"{path} line {line} has {'more' if None in row else 'fewer'} cells than columns; "
                          "repair or remove that line")
    return {key: _cell(path, line, key, domain, row[key]) for key, domain in columns.items()}


def _cell(path: Path, line: int, key: str, domain: Domain, text: str):
    try:
        return domain.read(text)
    except ValueError:
        found = "is empty, but must be" if text == "" else f"{text!r} is not"
        raise ConfigError(f"{path} line {line}, column {key}: {found} {domain.describe()}; "
                          "repair or remove that line") from None
