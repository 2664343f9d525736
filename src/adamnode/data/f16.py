"""The F-16 ground vibration test (Noel and Schoukens, 2017), full multisine, level 1: checked and parsed strictly.

``F16Data_FullMSine_Level1.csv`` holds 73,728 rows (9 periods of 8192 samples at 400 Hz) of the
shaker's Force and Voltage and three Accelerations, under the header
``"Force","Voltage","Acceleration1","Acceleration2","Acceleration3","Fs",``; every row ends with a
comma, the sampling rate stands on the first row only (the column is empty below), and the file
ends with a blank line. It is the heavy-ball paper's "plane vibration" data. It is looked up in
``<data dir>/f16/`` or directly in the data directory. No checksum is published for it, so we pin
the SHA-256 of the copy we ship (as Silverbox's and Walker2d's are pinned): the file is parsed
completely (header, row count, the rate, every value finite), so a damaged copy is refused with the
line at fault, then its size and digest are checked, so an edit that still parses (one digit
changed at the same size moved the first epoch's loss in its fifth digit, without a word) is
refused too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import torch

from .store import DataError, csv_data_lines, csv_numbers, existing_data_dir, file_identity, verify_bytes

SUBDIR = "f16"
FILE_NAME = "F16Data_FullMSine_Level1.csv"
HEADER = '"Force","Voltage","Acceleration1","Acceleration2","Acceleration3","Fs",'
CHANNELS = ("Force", "Voltage", "Acceleration1", "Acceleration2", "Acceleration3")
ROWS = 73_728
SAMPLE_RATE_HZ = 400.0
SIZE_BYTES = 3_361_461
#: The digest of the file in the project's shared datasets (the official file, as shipped).
SHA256 = "b72a9d063e392570bb20c26f4763232e30262e5914d946e475e67df40880db6d"
SOURCE = "F16GVT_Files.zip at www.nonlinearbenchmark.org (BenchmarkData/F16Data_FullMSine_Level1.csv)"


class F16Record(NamedTuple):
    """``signals[rows, 5]`` (Force, Voltage, Acceleration1-3; float64, CPU) sampled at ``sample_rate_hz``."""

    signals: torch.Tensor
    sample_rate_hz: float


_CACHE: dict[tuple, F16Record] = {}


def read_f16(data_dir: str | os.PathLike | None = None) -> F16Record:
    """The whole verified record. The tensor is shared with a per-process cache: do not modify it."""
    root = existing_data_dir(data_dir)
    path = f16_path(root)
    if not path.is_file():
        raise DataError(f"{FILE_NAME} not found in {root / SUBDIR} nor in {root}; put the official file there "
                        f"(from {SOURCE}) or point --data-dir / $ADAMNODE_DATA at the folder that holds it")
    key = file_identity(path)
    if key not in _CACHE:
        try:
            content = path.read_bytes()
        except OSError as error:
            raise DataError(f"{path} cannot be read ({error}); replace it with the official file") from None
        _CACHE[key] = parse_f16(content, path)
    return _CACHE[key]


def f16_path(root: Path) -> Path:
    """Where the file is, or would be: ``root/f16/<file>`` unless it lies in ``root`` itself."""
    direct = root / FILE_NAME
    return direct if direct.is_file() else root / SUBDIR / FILE_NAME


def parse_f16(content: bytes, path: Path) -> F16Record:
    """Parse and check the file's bytes; ``path`` only names the file in error messages."""
    lines = csv_data_lines(content, path, FILE_NAME, HEADER, ROWS, "replace it with the official file")
    values = [_parse_row(line, number, path) for number, line in enumerate(lines, start=2)]
    if len(content) != SIZE_BYTES:
        raise DataError(f"{path} has {len(content):,} bytes, the official file {SIZE_BYTES:,}: it parses but was "
                        "edited or re-saved; replace it with the official file")
    verify_bytes(content, path, "sha256", SHA256, f"replace it with the official file (from {SOURCE})")
    return F16Record(torch.tensor(values, dtype=torch.float64), SAMPLE_RATE_HZ)


def _parse_row(line: str, number: int, path: Path) -> list[float]:
    fields = line.strip().split(",")
    rate = f"{SAMPLE_RATE_HZ:g}" if number == 2 else ""
    # Five signals, the rate (on the first data row only) and the empty field after the final comma.
    if len(fields) != 7 or fields[6] != "" or fields[5].strip() != rate:
        expected = f"five numbers, Fs {'= ' + rate if rate else 'empty'} and a final comma"
        raise DataError(f"{path} line {number}: expected {expected}, found {line[:80]!r}; "
                        "the file is damaged, replace it with the official file")
    return csv_numbers(fields[:5], line, number, path, "replace it with the official file", excerpt=80)
