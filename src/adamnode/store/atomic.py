"""Atomic file writes: a reader (or a process killed mid-write) sees the old file or the new one, never half.

The one write routine of the package: run folders (``training``) and fetched data (``data``) both
go through ``atomic_write``. The content goes to a temporary file in the same folder (named
``.<name>.<16 hex digits>.tmp``, so a kill -9 mid-write leaves at most such a file, never a half
target; ``temporaries`` finds exactly those names and no user's file named alike),
is flushed and fsynced, optionally checked, then renamed over the target with ``os.replace``
(atomic on POSIX and Windows); the folder is fsynced so the rename itself survives a crash.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import IO, Any, Callable


def atomic_write(path: Path, write: Callable[[IO[bytes]], None],
                 check: Callable[[Path], None] | None = None) -> None:
    """Create or replace ``path`` with what ``write`` puts into the binary stream it is given.

    ``check``, if given, is called with the complete temporary file before it replaces ``path``;
    whatever it raises leaves ``path`` as it was and removes the temporary file.
    """
    path = Path(path)
    handle, temporary = _create_temporary(path)
    try:
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


#: The random part of a temporary file's name: exactly this many hex digits, so ``temporaries`` can
#: tell adamnode's temporary files from a user's ``.metrics.csv.old.tmp``.
_RANDOM_BYTES = 8
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows
_BINARY = getattr(os, "O_BINARY", 0)  # only on Windows, where text mode would translate newlines


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new, empty file ``.<name>.<random>.tmp`` beside ``path``, opened for writing.

    ``O_EXCL`` never opens an existing name (a link planted there included), and the mode is what
    a plain ``open()`` would give under the umask.
    """
    while True:
        temporary = os.path.join(path.parent, f".{path.name}.{secrets.token_hex(_RANDOM_BYTES)}.tmp")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o666), temporary
        except FileExistsError:  # 2**64 names: practically never, but never reuse one
            continue


def temporaries(folder: Path, name: str) -> list[Path]:
    """The temporary files ``atomic_write`` left in ``folder`` for a target called ``name`` (a write
    killed part way): exactly the names it makes, nothing else that merely looks alike."""
    pattern = re.compile(re.escape(f".{name}.") + f"[0-9a-f]{{{2 * _RANDOM_BYTES}}}" + re.escape(".tmp"))
    return sorted(Path(folder) / entry for entry in os.listdir(folder) if pattern.fullmatch(entry))


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))


def write_json(path: Path, content: Any) -> None:
    write_text(path, json.dumps(content, indent=2, sort_keys=False, allow_nan=True) + "\n")


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
