"""Atomic file writes: a reader (or a process killed mid-write) sees the old file or the new one, never half.

The one write routine of the package: run folders (``training``) and fetched data (``data``) both
go through ``atomic_write``. The content goes to a temporary file in the same folder (named
``.<name>.<random>.tmp``, so a kill -9 mid-write leaves at most such a file, never a half target),
is flushed and fsynced, optionally checked, then renamed over the target with ``os.replace``
(atomic on POSIX and Windows); the folder is fsynced so the rename itself survives a crash.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable


def atomic_write(path: Path, write: Callable[[IO[bytes]], None],
                 check: Callable[[Path], None] | None = None) -> None:
    """Create or replace ``path`` with what ``write`` puts into the binary stream it is given.

    ``check``, if given, is called with the complete temporary file before it replaces ``path``;
    whatever it raises leaves ``path`` as it was and removes the temporary file.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file private (0600); give it the mode a plain open() would have.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        if check is not None:
            check(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _fsync_folder(path.parent)


def temporary_names(name: str) -> str:
    """The glob pattern of the temporary files ``atomic_write`` uses for a target called ``name``."""
    return f".{name}.*.tmp"


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))


def write_json(path: Path, content: Any) -> None:
    write_text(path, json.dumps(content, indent=2, sort_keys=False, allow_nan=True) + "\n")


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
