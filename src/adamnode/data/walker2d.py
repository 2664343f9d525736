"""Walker2d rollouts (ODE-LSTM's irregular-sampling benchmark, Lechner and Hasani, 2020): checked and loaded strictly.

400 files ``rollout_000.npy`` ... ``rollout_399.npy`` (NumPy ``.npy``, float64 ``[steps, 17]``,
131 to 1,000 steps each) of MuJoCo Walker2d-v2 states, as published in the CfC repository, with
their SHA-256 in ``SHA256SUMS``. The list itself is pinned here by its own SHA-256, so every file is
checked against published digests, not against whatever list lies beside it. Looked up in
``<data dir>/walker2d/`` or directly in the data directory.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch

from .store import DataError, existing_data_dir, file_identity, verify_bytes

SUBDIR = "walker2d"
SUMS_FILE = "SHA256SUMS"
SUMS_SHA256 = "acc45258eacbde2eb0ef1ce325264b5182045d99a860f6fe1cd46277df6912ef"
ROLLOUTS = 400
CHANNELS = 17
SOURCE = "the CfC repository (github.com/raminmh/CfC, data/walker)"

_CACHE: dict[tuple, list[torch.Tensor]] = {}


def rollout_name(index: int) -> str:
    return f"rollout_{index:03d}.npy"


def read_walker2d(data_dir: str | os.PathLike | None = None) -> list[torch.Tensor]:
    """The ``ROLLOUTS`` verified rollouts in file order, float64 ``[steps, 17]`` CPU tensors (shared: do not modify)."""
    root = existing_data_dir(data_dir)
    folder = root if (root / SUMS_FILE).is_file() else root / SUBDIR
    sums_path = folder / SUMS_FILE
    if not sums_path.is_file():
        raise DataError(f"{SUMS_FILE} not found in {root / SUBDIR} nor in {root}; put the Walker2d rollouts and "
                        f"their {SUMS_FILE} (from {SOURCE}) there or point --data-dir / $ADAMNODE_DATA at them")
    key = file_identity(sums_path)
    if key not in _CACHE:
        digests = _digests(_read(sums_path), sums_path)
        _CACHE[key] = [_load_rollout(folder / rollout_name(i), digests[rollout_name(i)]) for i in range(ROLLOUTS)]
    return _CACHE[key]


def _digests(content: bytes, path: Path) -> dict[str, str]:
    verify_bytes(content, path, "sha256", SUMS_SHA256)
    digests = {}
    for line in content.decode("ascii").splitlines():
        digest, name = line.split()
        digests[name] = digest
    missing = [rollout_name(i) for i in range(ROLLOUTS) if rollout_name(i) not in digests]
    if missing:
        raise DataError(f"{path} lists no digest for {missing[0]}; replace it with the official {SUMS_FILE}")
    return digests


def _load_rollout(path: Path, digest: str) -> torch.Tensor:
    if not path.is_file():
        raise DataError(f"{path} is missing; the Walker2d data needs all {ROLLOUTS} rollouts (from {SOURCE})")
    content = _read(path)
    verify_bytes(content, path, "sha256", digest)
    try:
        array = np.load(io.BytesIO(content), allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path} is not a NumPy array file ({error}); replace it with the official file") from None
    if array.dtype != np.float64 or array.ndim != 2 or array.shape[1] != CHANNELS or not np.isfinite(array).all():
        raise DataError(f"{path} holds {array.dtype} {array.shape}, not finite float64 [steps, {CHANNELS}]; "
                        "replace it with the official file")
    return torch.from_numpy(array)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"{path} cannot be read ({error}); replace it with the official file") from None

