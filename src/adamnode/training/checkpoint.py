"""Checkpoint files: written atomically, read back safely, rejected with a clear reason."""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import CheckpointError
from ..files import atomic_write

CHECKPOINT_FILE = "checkpoint.pt"
FORMAT = "adamnode-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("settings", "model", "optimizer", "scheduler", "rng", "batch_generator", "epoch",
                 "step_in_epoch", "totals", "history")


def save_checkpoint(path: Path, content: dict) -> None:
    payload = {"format": FORMAT, "version": FORMAT_VERSION, **content}
    atomic_write(path, lambda stream: torch.save(payload, stream))


def load_checkpoint(path: Path) -> dict:
    """The checkpoint's content (tensors on the CPU), or ``CheckpointError``; the file is only read."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; point --resume at a run folder written by adamnode train")
    try:
        # weights_only: a checkpoint is data; loading one must never run code from the file.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for truncated or foreign files
        reason = " ".join(str(error).split())[:120]
        raise CheckpointError(f"{path} is corrupt or not a checkpoint ({type(error).__name__}: {reason}); "
                              "restore it from a backup or start the run again with --overwrite") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an adamnode checkpoint; point --resume at a run directory written by adamnode")
    if payload.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {payload.get('version')!r}, this adamnode reads "
                              f"{FORMAT_VERSION}; resume it with the adamnode version that wrote it")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is incomplete, start the run again with --overwrite")
    return payload
