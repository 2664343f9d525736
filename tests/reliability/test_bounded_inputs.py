"""Bounded inputs: a small compressed file cannot make adamnode inflate gigabytes, and a thread
count beyond the machine's cores is capped with a warning."""

from __future__ import annotations

import gzip
import struct
import tracemalloc

import pytest

from adamnode.data import mnist
from adamnode.data.store import DataError, file_digest

from cli_helpers import TINY, adamnode, one_line_error

INFLATED = 256 << 20  # what the bomb inflates to: 256 MiB of zeros from a file of about 1 MiB


def gzip_bomb(path, header: bytes) -> None:
    chunk = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as stream:
        stream.write(header)
        for _ in range(INFLATED // len(chunk)):
            stream.write(chunk)


@pytest.fixture(scope="module")
def bomb_folder(tmp_path_factory):
    """MNIST training labels whose header is right and whose body never ends, and an images file."""
    folder = tmp_path_factory.mktemp("bomb")
    gzip_bomb(folder / "train-labels-idx1-ubyte.gz", struct.pack(">II", mnist.LABEL_MAGIC, 60_000))
    (folder / "train-images-idx3-ubyte").write_bytes(struct.pack(">IIII", mnist.IMAGE_MAGIC, 60_000, 28, 28))
    assert (folder / "train-labels-idx1-ubyte.gz").stat().st_size < INFLATED // 100
    return folder


def test_a_decompression_bomb_is_refused_without_inflating_it(bomb_folder):
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="trailing bytes"):
            mnist.read_mnist("train", bomb_folder, download_missing=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"reading the bomb took {peak / 2 ** 20:.0f} MiB"


def test_a_decompression_bomb_through_the_command_is_one_line(bomb_folder):
    result = adamnode("train", "--task", "mnist", "--model", "node", "--data-dir", str(bomb_folder),
                      "--out", str(bomb_folder / "run"))
    line = one_line_error(result)
    assert result.returncode == 2 and "train-labels-idx1-ubyte.gz" in line and "trailing bytes" in line
    assert not (bomb_folder / "run").exists()


def test_a_download_that_inflates_past_its_size_is_refused(bomb_folder):
    with pytest.raises(DataError, match="more than the 60008 bytes"):
        file_digest(bomb_folder / "train-labels-idx1-ubyte.gz", "md5", gzip.open, limit=60_008)


def test_threads_beyond_the_cores_are_capped_with_a_warning(tmp_path):
    result = adamnode("train", "--model", "node", *TINY, "--epochs", "1", "--threads", "100000",
                      "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("adamnode: warning:")]
    assert len(warnings) == 1 and "--threads 100000" in warnings[0] and "Traceback" not in result.stderr
