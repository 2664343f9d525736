"""A study's ledger (claims, rates) is read strictly: every column has a declared domain, and a
cell outside it, a file that is not a ledger, or a path that cannot be written is one line naming
the file, the line and the column. The claims study's own ledger columns are used."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from adamnode.studies.ledger import read_ledger, write_ledger
from adamnode.errors import ConfigError

HEADER = "model,seed,train_loss,test_metric,nfe_forward,nfe_backward,late_loss"
ROW = {"model": "adamnode", "seed": "7", "train_loss": "1.0", "test_metric": "0.88", "nfe_forward": "20.0",
       "nfe_backward": "20.0", "late_loss": "0.43"}


@pytest.fixture(scope="module")
def columns():
    """The claims study's ledger columns, as its module declares them."""
    from adamnode.studies import claims

    return claims.LEDGER


def ledger(folder: Path, **cells) -> Path:
    path = folder / "runs.csv"
    path.write_text(HEADER + "\n" + ",".join({**ROW, **cells}.values()) + "\n")
    return path


def refused(path: Path, columns, *named: str) -> str:
    with pytest.raises(ConfigError) as error:
        read_ledger(path, columns)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and all(part in message for part in named), message
    return message


def test_a_good_row_reads_back(tmp_path, columns):
    assert read_ledger(ledger(tmp_path), columns)[0]["seed"] == 7


@pytest.mark.parametrize("column, text", [
    ("train_loss", "nan"), ("late_loss", "inf"), ("test_metric", "-inf"),  # were read as such; tables then broke
    ("train_loss", "1_0.7"),  # Python's float reads 10.7
    ("seed", "-7"), ("nfe_forward", "-5.0"),  # were tabulated
    ("seed", " 7"),  # Python's int reads 7
])
def test_a_cell_outside_its_columns_domain_names_file_line_and_column(tmp_path, columns, column, text):
    refused(ledger(tmp_path, **{column: text}), columns, "line 2", f"column {column}", repr(text))


def test_random_bytes_are_one_line(tmp_path, columns):
    path = tmp_path / "runs.csv"
    path.write_bytes(random.Random(31).randbytes(300))  # was a UnicodeDecodeError traceback
    refused(path, columns, "is not a ledger")


def test_a_byte_order_mark_before_the_header_is_skipped(tmp_path, columns):
    path = ledger(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as a spreadsheet saves it
    assert read_ledger(path, columns)[0]["model"] == "adamnode"


def test_an_extra_column_is_refused_and_named(tmp_path, columns):
    path = tmp_path / "runs.csv"
    path.write_text(HEADER + ",notes\n" + ",".join(ROW.values()) + ",kept by hand\n")
    refused(path, columns, "notes")


def test_a_ledger_in_a_missing_folder_is_one_line(tmp_path, columns):
    path = tmp_path / "missing" / "dir" / "out.csv"
    rows = read_ledger(ledger(tmp_path), columns)
    with pytest.raises(ConfigError) as error:  # was FileNotFoundError
        write_ledger(path, columns, rows)
    assert str(path.parent) in str(error.value) and "does not exist" in str(error.value)
