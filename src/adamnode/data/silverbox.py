"""The Silverbox benchmark (Wigren and Schoukens, 2013): ``SNLS80mV.csv``, checked and parsed strictly.

The file holds 131,072 samples at 610.35 Hz of V1 (input voltage) and V2 (output voltage), in
volts, under the header ``"V1","V2",``; every row ends with a comma and the file with a blank line.
It is looked up in ``<data dir>/silverbox/`` (where a download puts it) or directly in the data
directory, so ``--data-dir ../shared/datasets`` and ``--data-dir ../shared/datasets/silverbox`` both
work. The text is read once: parsed first (so a wrong header, a bad row or a truncated file is
reported as such, with its line), then checked against the official SHA-256.
"""

from __future__ import annotations

import io
import os
import urllib.request
import zipfile
from pathlib import Path
from typing import NamedTuple

import torch

from ..store import atomic_write
from .store import DataError, csv_data_lines, csv_numbers, existing_data_dir, file_identity, verify_bytes

SUBDIR = "silverbox"
FILE_NAME = "SNLS80mV.csv"
SHA256 = "ae62d5a91230c10f76e6dd02c8a4fac3c9d4d8a95fbf50e87cb0c4885003e0f1"
HEADER = '"V1","V2",'
SAMPLES = 131_072
SAMPLE_RATE_HZ = 610.35
#: The benchmark page (nonlinearbenchmark.org) links the archive on Google Drive; the older
#: address on the site itself is kept as a fallback.
ARCHIVE_URLS = (
    "https://drive.google.com/uc?export=download&id=17iS-6oBUUgrmiAcrZoG9S5sOaljZnDSy",
    "http://www.nonlinearbenchmark.org/FILES/BENCHMARKS/SILVERBOX/SilverboxFiles.zip",
)


class Silverbox(NamedTuple):
    """The record in volts: ``v1`` (input) and ``v2`` (output), float64 CPU tensors of equal length."""

    v1: torch.Tensor
    v2: torch.Tensor


_CACHE: dict[tuple, Silverbox] = {}


def read_silverbox(data_dir: str | os.PathLike | None = None, download_missing: bool = True) -> Silverbox:
    """The whole verified record; a missing file is downloaded (verified) when ``download_missing``.

    The tensors are shared with a per-process cache: do not modify them.
    """
    root = existing_data_dir(data_dir)
    path = silverbox_path(root)
    if not path.is_file():
        if not download_missing:
            raise DataError(
                f"{FILE_NAME} not found in {root / SUBDIR} nor in {root}; put the official file there "
                f"(from SilverboxFiles.zip at www.nonlinearbenchmark.org) or point --data-dir / $ADAMNODE_DATA "
                "at the folder that holds it"
            )
        path = root / SUBDIR / FILE_NAME
        fetch(path)
    key = file_identity(path)
    if key not in _CACHE:
        _CACHE[key] = parse_silverbox(_read_bytes(path), path)
    return _CACHE[key]


def silverbox_path(root: Path) -> Path:
    """Where the file is, or would be: ``root/silverbox/SNLS80mV.csv`` unless it lies in ``root`` itself."""
    direct = root / FILE_NAME
    return direct if direct.is_file() else root / SUBDIR / FILE_NAME


def parse_silverbox(content: bytes, path: Path) -> Silverbox:
    """Parse and verify the file's bytes; ``path`` only names the file in error messages."""
    lines = csv_data_lines(content, path, FILE_NAME, HEADER, SAMPLES, "delete it and fetch it again", excerpt=40)
    v1, v2 = [], []
    for number, line in enumerate(lines, start=2):
        first, second = _parse_row(line, number, path)
        v1.append(first)
        v2.append(second)
    verify_bytes(content, path, "sha256", SHA256)
    return Silverbox(torch.tensor(v1, dtype=torch.float64), torch.tensor(v2, dtype=torch.float64))


def _parse_row(line: str, number: int, path: Path) -> tuple[float, float]:
    fields = line.strip().split(",")
    # The official rows end with a comma, which leaves one empty last field.
    if fields and fields[-1] == "":
        fields.pop()
    if len(fields) != 2:
        raise DataError(f"{path} line {number}: expected two numbers 'V1,V2,', found {line[:60]!r}; "
                        "the file is damaged, delete it and fetch it again")
    first, second = csv_numbers(fields, line, number, path, "delete it and fetch it again")
    return first, second


def fetch(destination: Path) -> None:
    """Download the official archive, take ``SNLS80mV.csv`` out of it, verify it, store it atomically."""
    failures = []
    for url in ARCHIVE_URLS:
        try:
            content = _csv_from_archive(url)
            verify_bytes(content, destination, "sha256", SHA256)
        except (OSError, zipfile.BadZipFile, DataError) as error:
            failures.append(f"{url}: {error}")
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(destination, lambda out: out.write(content))
        return
    raise DataError(f"could not download {FILE_NAME} ({'; '.join(failures)}); "
                    f"without network, put the official file at {destination}")


def _csv_from_archive(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    members = [name for name in archive.namelist() if name.rsplit("/", 1)[-1] == FILE_NAME]
    if not members:
        raise DataError(f"the archive holds no {FILE_NAME}")
    return archive.read(members[0])


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"{path} cannot be read ({error}); delete it and fetch it again") from None
