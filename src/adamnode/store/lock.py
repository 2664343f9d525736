"""One writer per folder, and which process of a job writes at all.

``folder_lock`` takes an exclusive ``flock`` on the folder's lock file for as long as a command
writes there. The lock belongs to the open file, so it dies with its process (a kill -9 leaves no
stale lock); a second writer is refused at once with the holder's process id. The lock file is
removed on release; a file left by a killed process is harmless.
"""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch.distributed as dist

from ..errors import ConfigError, FolderBusy
from .names import LOCK_FILE
from .paths import linked

try:
    import fcntl
except ImportError:  # not POSIX: no OS-level lock available, writers are not serialised
    fcntl = None


def is_main_process() -> bool:
    """Whether this process writes files and prints progress: rank 0 under torchrun, else always.

    Before the process group exists (argument checks, claiming the output folder) torchrun's
    ``RANK`` already tells.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


_HELD: dict[str, list] = {}


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s exclusive lock (re-entrant within the process); ``FolderBusy`` if another has it."""
    folder = Path(folder)
    key = os.path.realpath(folder)
    if fcntl is None or not is_main_process():
        yield
        return
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    path = folder / LOCK_FILE
    descriptor = _acquire(folder, path)
    _HELD[key] = [descriptor, 1]
    try:
        yield
    finally:
        del _HELD[key]
        try:
            # While still locked, nobody can have locked the file we remove; and only if the name is
            # still our file (not something put in its place meanwhile).
            if _same_file(os.lstat(path), os.fstat(descriptor)):
                path.unlink()
        except FileNotFoundError:
            pass
        os.close(descriptor)


def _same_file(one: os.stat_result, other: os.stat_result) -> bool:
    return (one.st_ino, one.st_dev) == (other.st_ino, other.st_dev)


def _acquire(folder: Path, path: Path) -> int:
    while True:
        descriptor = _open_lock_file(path)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(descriptor, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(descriptor)
            raise FolderBusy(f"{folder} is being written by another adamnode process (pid {holder}); wait for "
                             "it to finish or stop it, or choose another folder") from None
        # The previous holder removes the file on release: if it did so between our open and our
        # lock, we hold a lock on a removed file and must take the new one instead.
        try:
            current = os.lstat(path)
        except FileNotFoundError:
            current = None
        if current is not None and _same_file(current, os.fstat(descriptor)):
            os.ftruncate(descriptor, 0)
            os.write(descriptor, f"{os.getpid()}\n".encode("ascii"))
            return descriptor
        os.close(descriptor)


def _open_lock_file(path: Path) -> int:
    """``path`` opened for reading and writing (created if missing); a link, or a file that is not a
    plain one of its own (a hard link's content lives elsewhere too), is refused: the lock file is
    truncated to hold our process id."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError:
        if path.is_symlink():
            raise linked(path) from None
        raise
    opened = os.fstat(descriptor)
    if not stat.S_ISREG(opened.st_mode) or opened.st_nlink > 1:
        os.close(descriptor)
        raise ConfigError(f"{path} is not a plain file of its own (a hard link, a pipe or a device), so adamnode "
                          "will not write its process id into it; remove it yourself, or choose another folder")
    return descriptor
