"""The F-16 loader: the real file, and every damaged file reported with its line and fix."""

import hashlib
from pathlib import Path

import pytest
import torch

from adamnode.data import DataError, f16
from adamnode.data.f16 import FILE_NAME, HEADER, ROWS, read_f16

ROW = "0.5,-0.25,0.125,1e-3,-2,"


def write_record(folder: Path, rows: list[str], header: str = HEADER) -> Path:
    path = folder / "f16" / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n\n")
    return path


@pytest.fixture
def small(tmp_path, monkeypatch):
    """A four-row record that is, to the loader, the official file (its row count, size and digest patched in)."""
    rows = ["0.5,-0.25,0.125,1e-3,-2,400,", *[ROW + ","] * 3]
    path = write_record(tmp_path, rows)
    monkeypatch.setattr(f16, "ROWS", 4)
    monkeypatch.setattr(f16, "SIZE_BYTES", path.stat().st_size)
    monkeypatch.setattr(f16, "SHA256", hashlib.sha256(path.read_bytes()).hexdigest(), raising=False)
    return rows


def test_real_file_is_read_and_checked(shared_datasets):
    if not (shared_datasets / "f16" / FILE_NAME).is_file():
        pytest.skip("no shared/datasets/f16")
    record = read_f16(shared_datasets)
    assert record.signals.shape == (ROWS, 5) and record.sample_rate_hz == 400.0
    assert record.signals[0].tolist() == [0.95714, -0.00045788, -0.018392, -0.049607, -0.046328]


def test_a_well_formed_record_parses_to_its_values(tmp_path, small):
    record = read_f16(tmp_path)
    assert torch.equal(record.signals, torch.tensor([[0.5, -0.25, 0.125, 1e-3, -2.0]] * 4, dtype=torch.float64))


def test_truncated_file(tmp_path, small):
    write_record(tmp_path, small[:3])
    with pytest.raises(DataError, match="truncated: 3 data rows, expected 4"):
        read_f16(tmp_path)


def test_wrong_header(tmp_path, small):
    write_record(tmp_path, small, header='"Force","Voltage",')
    with pytest.raises(DataError, match="line 1: expected the header"):
        read_f16(tmp_path)


@pytest.mark.parametrize("line, problem", [
    ("0.5,-0.25,oops,1e-3,-2,,", "a field is not a number"),
    ("0.5,-0.25,nan,1e-3,-2,,", "non-finite value"),
    ("0.5,-0.25,0.125,1e-3,,", "expected five numbers, Fs empty"),
    ("0.5,-0.25,0.125,1e-3,-2,400,", "expected five numbers, Fs empty"),
])
def test_a_damaged_row_names_its_line(tmp_path, small, line, problem):
    rows = list(small)
    rows[2] = line
    path = write_record(tmp_path, rows)
    with pytest.raises(DataError, match=rf"{path} line 4: {problem}"):
        read_f16(tmp_path)


def test_the_rate_must_stand_on_the_first_row(tmp_path, small):
    write_record(tmp_path, [ROW + ",", *small[1:]])
    with pytest.raises(DataError, match="line 2: expected five numbers, Fs = 400"):
        read_f16(tmp_path)


def test_an_edited_file_that_still_parses_is_refused_by_its_size(tmp_path, small):
    write_record(tmp_path, [small[0], "0.50,-0.25,0.125,1e-3,-2,,", *small[2:]])
    with pytest.raises(DataError, match="bytes, the official file .*edited"):
        read_f16(tmp_path)


def test_a_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(DataError, match=f"{FILE_NAME} not found .*nonlinearbenchmark"):
        read_f16(tmp_path)


def test_an_edited_file_of_the_same_size_is_refused_by_its_digest(tmp_path, small):
    write_record(tmp_path, [small[0], "0.6,-0.25,0.125,1e-3,-2,,", *small[2:]])  # one digit changed
    with pytest.raises(DataError, match="fails its SHA256 check.*replace it with the official file"):
        read_f16(tmp_path)


def test_the_shipped_file_with_one_digit_changed_is_refused(shared_datasets, tmp_path):
    shipped = shared_datasets / "f16" / FILE_NAME
    if not shipped.is_file():
        pytest.skip("no shared/datasets/f16")
    content = shipped.read_bytes()
    position = content.index(b"0.95714")  # the first Force sample
    altered = tmp_path / FILE_NAME
    altered.write_bytes(content[:position] + b"0.95715" + content[position + 7:])
    with pytest.raises(DataError, match=rf"{altered} fails its SHA256 check"):
        read_f16(tmp_path)
