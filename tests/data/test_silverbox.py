"""The Silverbox loader: the real file, and every malformed file reported with its line and fix."""

import zipfile
from pathlib import Path

import pytest
import torch

from adamnode.data import DataError, silverbox
from adamnode.data.silverbox import FILE_NAME, HEADER, SAMPLES, read_silverbox


def write_record(folder: Path, rows: list[str], header: str = HEADER) -> Path:
    path = folder / "silverbox" / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n\n")
    return path


def test_real_file_is_read_and_verified(shared_datasets):
    datasets = shared_datasets
    record = read_silverbox(datasets)
    assert record.v1.shape == record.v2.shape == (SAMPLES,)
    assert record.v1.dtype == torch.float64
    assert (record.v1[0].item(), record.v2[0].item()) == (0.0057756, 0.0093978)
    assert (record.v1[-1].item(), record.v2[-1].item()) == (0.0096732, -0.0072247)
    # The folder that holds the file directly works as well as the datasets root.
    assert torch.equal(read_silverbox(datasets / "silverbox").v2, record.v2)


def test_wrong_header(tmp_path):
    write_record(tmp_path, ["0.1,0.2,"] * SAMPLES, header="time,V1,V2")
    with pytest.raises(DataError, match=r"line 1: expected the header .*'time,V1,V2'"):
        read_silverbox(tmp_path)


@pytest.mark.parametrize("row, problem", [
    ("0.1,oops,", "a field is not a number"),
    ("0.1,inf,", "non-finite value"),
    ("0.1,0.2,0.3,", "expected two numbers 'V1,V2,'"),
])
def test_a_bad_row_names_its_line_and_the_problem(tmp_path, row, problem):
    rows = ["0.1,0.2,"] * SAMPLES
    rows[4] = row
    path = write_record(tmp_path, rows)
    with pytest.raises(DataError, match=rf"{path} line 6: {problem}.*'{row}'"):
        read_silverbox(tmp_path)


def test_truncated_file(tmp_path):
    write_record(tmp_path, ["0.1,0.2,"] * 1000)
    with pytest.raises(DataError, match=f"truncated: 1000 data rows, expected {SAMPLES}"):
        read_silverbox(tmp_path)


def test_well_formed_file_with_other_values_fails_the_checksum(tmp_path):
    write_record(tmp_path, ["0.1,0.2,"] * SAMPLES)
    with pytest.raises(DataError, match="fails its SHA256 check"):
        read_silverbox(tmp_path)


def test_missing_file_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError, match=f"{FILE_NAME} not found in .*--data-dir"):
        read_silverbox(tmp_path, download_missing=False)


def test_missing_data_dir(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_silverbox(tmp_path / "nowhere")


def archive(path: Path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, content in members.items():
            bundle.writestr(name, content)
    return path.as_uri()


def test_download_takes_the_verified_csv_out_of_the_official_archive(tmp_path, monkeypatch, shared_datasets):
    content = (shared_datasets / "silverbox" / FILE_NAME).read_bytes()
    empty = archive(tmp_path / "empty.zip", {"readme.txt": b"no data"})
    official = archive(tmp_path / "SilverboxFiles.zip", {f"SilverboxFiles/{FILE_NAME}": content})
    # The first source fails; the loader moves on to the next.
    monkeypatch.setattr(silverbox, "ARCHIVE_URLS", (empty, official))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    assert read_silverbox(data_dir).v1.shape == (SAMPLES,)
    assert [path.name for path in (data_dir / "silverbox").iterdir()] == [FILE_NAME]


def test_failed_download_leaves_nothing_and_says_where_to_put_the_file(tmp_path, monkeypatch):
    wrong = archive(tmp_path / "wrong.zip", {FILE_NAME: f"{HEADER}\n0.1,0.2,\n".encode()})
    monkeypatch.setattr(silverbox, "ARCHIVE_URLS", (wrong,))
    with pytest.raises(DataError, match=f"could not download .*SHA256.*put the official file at .*{FILE_NAME}"):
        read_silverbox(tmp_path)
    assert not (tmp_path / "silverbox").exists()
