"""CIFAR-10 from the official python-pickle batches (``cifar-10-batches-py/``), checked strictly.

Each batch is a pickled dict whose ``b"data"`` is a uint8 array ``[10000, 3072]`` (per image: the
1024 red, then green, then blue pixels, rows in order) and ``b"labels"`` a list of ints in 0..9.
Pickle can run code, so a batch is unpickled only after its MD5 matched, and then by an unpickler
that can build nothing but numpy arrays. Parsed splits are cached per process, only once every
batch of the split passed.
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
import tarfile
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from ..store import atomic_write
from .store import DataError, download, existing_data_dir, file_identity, verify_bytes
from ..errors import ConfigError

FOLDER = "cifar-10-batches-py"
ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
SPLITS = {
    "train": ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"),
    "test": ("test_batch",),
}
OFFICIAL_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
IMAGES_PER_BATCH = 10_000
CHANNELS, SIZE, CLASSES = 3, 32, 10

_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def read_cifar10(
    split: str,
    data_dir: str | os.PathLike | None = None,
    download_missing: bool = True,
    checksums: Mapping[str, str] = OFFICIAL_MD5,
    images_per_batch: int = IMAGES_PER_BATCH,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` of ``split`` (``train`` or ``test``) on the CPU.

    ``images``: uint8 ``[N, 3, 32, 32]``; ``labels``: int64 ``[N]``; shared with the per-process
    cache (copy before modifying in place). Batches are looked up in ``<data dir>/cifar-10-batches-py``
    (or the data directory itself when it is that folder); when missing and ``download_missing``,
    the official archive is fetched, verified and unpacked there.
    ``checksums`` and ``images_per_batch`` exist for tests that write a small synthetic CIFAR-10;
    real runs keep the official values.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown CIFAR-10 split {split!r}; choose 'train' or 'test'")
    folder = cifar_folder(existing_data_dir(data_dir))
    names = SPLITS[split]
    missing = [name for name in names if not (folder / name).is_file()]
    if missing and download_missing:
        _fetch(folder)
    elif missing:
        raise DataError(
            f"CIFAR-10 batch(es) {', '.join(missing)} not found in {folder}; unpack {ARCHIVE_URL} so that "
            f"{FOLDER}/ lies in the data directory, or point --data-dir / $ADAMNODE_DATA at it"
        )
    key = (split, images_per_batch, tuple(checksums.get(name) for name in names)) + tuple(
        file_identity(folder / name) for name in names)
    if key not in _CACHE:
        batches = [_read_batch(folder / name, checksums, images_per_batch) for name in names]
        images = np.concatenate([data for data, _ in batches])
        labels = np.concatenate([targets for _, targets in batches])
        _CACHE[key] = (torch.from_numpy(images).reshape(-1, CHANNELS, SIZE, SIZE), torch.from_numpy(labels))
    return _CACHE[key]


def cifar_folder(root: Path) -> Path:
    """``root`` itself when it is the batches folder (holds a batch), else ``root/cifar-10-batches-py``."""
    return root if any((root / name).is_file() for name in OFFICIAL_MD5) else root / FOLDER


def _read_batch(path: Path, checksums: Mapping[str, str], images_per_batch: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        content = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path} cannot be read ({error}); delete it and fetch it again") from None
    if path.name not in checksums:
        raise DataError(f"{path} has no known checksum; expected one of {sorted(checksums)}")
    verify_bytes(content, path, "md5", checksums[path.name])
    batch = _unpickle(path, content)
    data = _checked_data(path, batch.get(b"data"), images_per_batch)
    return data, _checked_labels(path, batch.get(b"labels"), images_per_batch)


def _checked_data(path: Path, data, images_per_batch: int) -> np.ndarray:
    expected = (images_per_batch, CHANNELS * SIZE * SIZE)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape != expected:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: b'data' is {found}, expected uint8 {expected}; replace the batch with the official one")
    return data


def _checked_labels(path: Path, labels, images_per_batch: int) -> np.ndarray:
    problem = f"{path}: b'labels' must be {images_per_batch} integers in 0..{CLASSES - 1}"
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise DataError(f"{problem}, got {type(labels).__name__}; replace the batch with the official one") from None
    if labels.shape != (images_per_batch,):
        raise DataError(f"{problem}, got shape {labels.shape}; replace the batch with the official one")
    if labels.min() < 0 or labels.max() >= CLASSES:
        raise DataError(f"{problem}, got {labels.min()}..{labels.max()}; replace the batch with the official one")
    return labels


class _ArrayUnpickler(pickle.Unpickler):
    """Builds numpy arrays and plain containers only: a crafted batch cannot run code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): np.ndarray(0).__reduce__()[0],
        ("numpy._core.multiarray", "_reconstruct"): np.ndarray(0).__reduce__()[0],
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def _unpickle(path: Path, content: bytes) -> dict:
    try:
        batch = _ArrayUnpickler(io.BytesIO(content), encoding="bytes").load()
    except Exception as error:  # a malformed pickle can raise almost anything
        raise DataError(f"{path} is not a CIFAR-10 python batch ({error}); replace it with the official one") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path} holds a {type(batch).__name__}, not the batch dict; replace it with the official one")
    return batch


def _fetch(folder: Path) -> None:
    archive = folder.parent / "cifar-10-python.tar.gz"
    try:
        download(ARCHIVE_URL, archive, "md5", ARCHIVE_MD5)
    except DataError as error:
        raise DataError(f"{error}; or unpack the archive yourself so that {folder} holds "
                        f"{', '.join(OFFICIAL_MD5)}") from None
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        # Only the six batches, written by our own names: the layout cannot depend on the archive's.
        for name in OFFICIAL_MD5:
            member = tar.extractfile(f"{FOLDER}/{name}")
            atomic_write(folder / name, lambda out: shutil.copyfileobj(member, out))
    archive.unlink()
