"""Checkpoint files: written atomically, sealed with a digest, read back safely, rejected with a clear reason.

Format 2, the one every release wrote: one header line ``adamnode-checkpoint 2 sha256 <hex
digest>\\n``, then the content as ``torch.save`` writes it. The digest covers every byte after the
header, so a flipped bit in a stored weight, a truncation or any edit is refused on load (the file
itself is only read).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from ..store import atomic_write
from .checkpoint_fields import field_problem
from ..errors import CheckpointError

FORMAT = "adamnode-checkpoint"
FORMAT_VERSION = 2
REQUIRED_KEYS = ("settings", "model", "optimizer", "scheduler", "rng", "batch_generator", "epoch",
                 "step_in_epoch", "global_step", "totals", "history", "step_window", "wall_seconds")
_HEADER = f"{FORMAT} {FORMAT_VERSION} sha256 ".encode("ascii")
_HEADER_SIZE = len(_HEADER) + 64 + 1


def save_checkpoint(path: Path, content: dict) -> None:
    payload = {"format": FORMAT, "version": FORMAT_VERSION, **content}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    body = buffer.getvalue()
    header = _HEADER + hashlib.sha256(body).hexdigest().encode("ascii") + b"\n"

    def write(stream) -> None:
        stream.write(header)
        stream.write(body)

    atomic_write(path, write)


def load_checkpoint(path: Path) -> dict:
    """The checkpoint's content (tensors on the CPU), or ``CheckpointError``; the file is only read."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; point --resume at a run folder written by adamnode train")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"{path} cannot be read ({error}); check its permissions") from None
    if not data.startswith(_HEADER):
        raise _unsealed(path, data)
    body = data[_HEADER_SIZE:]
    stored = data[len(_HEADER):_HEADER_SIZE - 1].decode("ascii", "replace")
    if data[_HEADER_SIZE - 1:_HEADER_SIZE] != b"\n" or hashlib.sha256(body).hexdigest() != stored:
        raise CheckpointError(f"{path} is corrupt: its content does not match the SHA-256 digest stored in it "
                              "(altered, damaged or truncated); restore it from a backup or start the run again "
                              "with --overwrite")
    try:
        # weights_only: a checkpoint is data; loading one must never run code from the file.
        payload = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for truncated or foreign files
        text = " ".join(str(error).split())
        reason = text if len(text) <= 120 else text[:120].rsplit(" ", 1)[0] + " ..."
        raise CheckpointError(f"{path} is corrupt or not a checkpoint ({type(error).__name__}: {reason}); "
                              "restore it from a backup, or start the run again: with --overwrite where adamnode "
                              "wrote the folder, else with another --out") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an adamnode checkpoint; point --resume at a run directory written by adamnode")
    version = payload.get("version")
    if version != FORMAT_VERSION:
        # The seal and the body disagree: no adamnode writes that, so the file was altered.
        raise CheckpointError(f"{path} is altered: its seal says format {FORMAT_VERSION} but its content says format "
                              f"{version!r}; restore it from a backup or start the run again with --overwrite")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is incomplete, start the run again with --overwrite")
    problem = field_problem(payload)
    if problem:
        raise CheckpointError(f"{path} holds an impossible value ({problem}); it is damaged, restore it from a "
                              "backup or start the run again with --overwrite")
    return payload


def _unsealed(path: Path, data: bytes) -> CheckpointError:
    """The refusal of a file that does not start with this format's seal: another format's, or none."""
    first = data[:_HEADER_SIZE].split(b"\n", 1)[0].decode("ascii", "replace").split(" ")
    if len(first) == 4 and first[0] == FORMAT and first[2] == "sha256":
        return CheckpointError(f"{path} has checkpoint format {first[1]}, this adamnode reads {FORMAT_VERSION}; "
                               "resume it with the adamnode version that wrote it")
    return CheckpointError(f"{path} is corrupt or not an adamnode checkpoint (it does not start with the "
                           f"'{FORMAT} {FORMAT_VERSION}' seal); restore it from a backup, or start the run again: with "
                           "--overwrite where adamnode wrote the folder, else with another --out")
