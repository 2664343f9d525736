"""MNIST from its four IDX files (raw or gzipped), checked and parsed strictly.

An IDX file is a big-endian header (magic number ``0x0000080N`` with ``N`` dimensions, then ``N``
32-bit sizes) followed by the uint8 payload. Each file is read into memory once: its header and
length are checked first (so truncation is reported as such), then the MD5 of the uncompressed
content against the published value. Parsed splits are cached per process, and only after every
file of the split passed, so a failed load leaves nothing behind.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import torch

from .store import DataError, download, existing_data_dir, file_identity, verify_bytes
from ..errors import ConfigError

SUBDIR = "mnist"
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801
ROWS = COLS = 28
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}
#: MD5 of the uncompressed files (the .gz wrappers vary between mirrors, the content does not).
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def read_mnist(split: str, data_dir: str | os.PathLike | None = None,
               download_missing: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` of ``split`` (``train`` or ``test``) on the CPU.

    ``images``: uint8 ``[N, 1, 28, 28]``; ``labels``: int64 ``[N]``. The tensors are shared with the
    per-process cache: copy before modifying them in place. Files are looked up in
    ``<data dir>/mnist`` or directly in the data directory; missing ones are downloaded (verified)
    into ``<data dir>/mnist`` when ``download_missing``.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown MNIST split {split!r}; choose 'train' or 'test'")
    image_stem, label_stem, count = SPLITS[split]
    folder = mnist_folder(existing_data_dir(data_dir))
    paths = _locate(folder, (image_stem, label_stem), download_missing)
    # A file replaced on disk (new size or time) is read again instead of served stale.
    key = (split,) + tuple(file_identity(path) for path in paths)
    if key not in _CACHE:
        labels = _read_idx(paths[1], label_stem, LABEL_MAGIC, (count,))
        images = _read_idx(paths[0], image_stem, IMAGE_MAGIC, (count, ROWS, COLS))
        _CACHE[key] = (images.unsqueeze(1), labels.long())
    return _CACHE[key]


def mnist_folder(root: Path) -> Path:
    """``root`` itself when it already holds MNIST files, else ``root/mnist``."""
    holds_mnist = any((root / name).exists() or (root / f"{name}.gz").exists() for name in MD5)
    return root if holds_mnist else root / SUBDIR


def _locate(folder: Path, stems: tuple[str, ...], download_missing: bool) -> tuple[Path, ...]:
    missing = [stem for stem in stems if _existing(folder, stem) is None]
    if missing and download_missing:
        for stem in missing:
            if not _fetched(folder, stem):
                break  # offline, every further attempt would only add waiting
        missing = [stem for stem in stems if _existing(folder, stem) is None]
    if missing:
        raise DataError(
            f"MNIST file(s) {', '.join(missing)} not found in {folder}"
            f"{' and not downloadable' if download_missing else ''}; put them there (raw or .gz, e.g. from "
            f"{MIRRORS[0]}) or point --data-dir / $ADAMNODE_DATA at a folder that holds them"
        )
    return tuple(_existing(folder, stem) for stem in stems)


def _existing(folder: Path, stem: str) -> Path | None:
    for path in (folder / stem, folder / f"{stem}.gz"):
        if path.is_file():
            return path
    return None


def _fetched(folder: Path, stem: str) -> bool:
    for mirror in MIRRORS:
        try:
            download(f"{mirror}{stem}.gz", folder / f"{stem}.gz", "md5", MD5[stem], opener=gzip.open,
                     limit=idx_size(stem))
            return True
        except DataError:
            continue
    return False


def _read_idx(path: Path, stem: str, magic: int, shape: tuple[int, ...]) -> torch.Tensor:
    header = 4 + 4 * len(shape)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as stream:
            head = stream.read(header)
            if len(head) < header:
                raise DataError(f"{path} is truncated: {len(head)} bytes, less than its {header}-byte IDX header; "
                                "delete it and fetch it again")
            found_magic = int.from_bytes(head[:4], "big")
            if found_magic != magic:
                raise DataError(f"{path} has magic number 0x{found_magic:08x}, expected 0x{magic:08x} for {stem}; "
                                "it is not this MNIST file, replace it with the official one")
            found_shape = struct.unpack(f">{len(shape)}I", head[4:header])
            if found_shape != shape:
                raise DataError(f"{path} declares dimensions {found_shape}, expected {shape} for {stem}; "
                                "replace it with the official file")
            # The payload is read up to the size the (checked) header declares and one byte more:
            # a small .gz that would inflate to gigabytes is refused after that many bytes.
            payload_size = math.prod(found_shape)
            payload = stream.read(payload_size + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path} cannot be read ({error}); delete it and fetch it again") from None
    expected_size = header + payload_size
    if len(payload) < payload_size:
        raise DataError(f"{path} is truncated: {header + len(payload)} bytes uncompressed, expected {expected_size}; "
                        "delete it and fetch it again")
    if len(payload) > payload_size:
        raise DataError(f"{path} has trailing bytes: it holds more than the {expected_size} bytes its header "
                        "declares; delete it and fetch it again")
    verify_bytes(head + payload, path, "md5", MD5[stem])
    return torch.frombuffer(bytearray(payload), dtype=torch.uint8).reshape(shape)


def idx_size(stem: str) -> int:
    """The uncompressed size of the official IDX file ``stem``: its header and its payload."""
    for image_stem, label_stem, count in SPLITS.values():
        if stem == image_stem:
            return 16 + count * ROWS * COLS
        if stem == label_stem:
            return 8 + count
    raise KeyError(stem)
