"""Where data lives, how its files are checked, and the one small download routine.

Resolution order for the data directory: an explicit ``--data-dir``, then ``$ADAMNODE_DATA``, then
``~/.cache/adamnode``. Every file is verified against a published checksum before use.
"""

from __future__ import annotations

import hashlib
import http.client
import math
import os
import shutil
import urllib.request
from pathlib import Path

from ..errors import DataError
from ..store import atomic_write

ENV_VAR = "ADAMNODE_DATA"
DEFAULT_DIR = Path.home() / ".cache" / "adamnode"


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory: ``explicit``, else ``$ADAMNODE_DATA``, else ``~/.cache/adamnode``."""
    if explicit:
        path = Path(explicit).expanduser()
        if path.exists() and not path.is_dir():
            raise DataError(f"--data-dir {path} is a file, not a directory; pass the folder that holds the data")
        return path
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else DEFAULT_DIR


def existing_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``resolve_data_dir``, refusing a directory the user named that does not exist.

    A typo in ``--data-dir`` or ``$ADAMNODE_DATA`` should fail loudly, not trigger a download into
    a fresh folder; only the default cache folder is created on demand.
    """
    path = resolve_data_dir(explicit)
    if path != DEFAULT_DIR and not path.is_dir():
        raise DataError(
            f"data directory {path} does not exist; pass --data-dir (or set {ENV_VAR} to) the folder "
            "that holds the data"
        )
    return path


def file_identity(path: Path) -> tuple[str, int, int]:
    """(real path, size, modification time): a cache key that changes when the file is replaced."""
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def csv_data_lines(content: bytes, path: Path, file_name: str, header: str, rows: int, remedy: str,
                   excerpt: int = 60) -> list[str]:
    """The data lines of an official ASCII CSV: the header and the row count checked, blank tail lines dropped.

    ``path`` names the file in messages; ``remedy`` ends the wrong-row-count message.
    """
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not a text CSV (byte {error.start} is not ASCII); "
                        f"it is not {file_name}, replace it with the official file") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or lines[0].strip() != header:
        found = lines[0][:excerpt] if lines else "an empty file"
        raise DataError(f"{path} line 1: expected the header {header}, found {found!r}; "
                        f"this is not {file_name}, replace it with the official file")
    if len(lines) - 1 != rows:
        problem = "truncated" if len(lines) - 1 < rows else "longer than the official file"
        raise DataError(f"{path} is {problem}: {len(lines) - 1} data rows, expected {rows}; {remedy}")
    return lines[1:]


def csv_numbers(fields: list[str], line: str, number: int, path: Path, remedy: str, excerpt: int = 60) -> list[float]:
    """``fields`` of data line ``number`` as finite floats; ``remedy`` ends the message naming a bad one."""
    try:
        values = [float(field) for field in fields]
    except ValueError:
        raise DataError(f"{path} line {number}: a field is not a number in {line[:excerpt]!r}; "
                        f"the file is damaged, {remedy}") from None
    if not all(math.isfinite(value) for value in values):
        raise DataError(f"{path} line {number}: non-finite value in {line[:excerpt]!r}; the file is damaged, {remedy}")
    return values


def file_digest(path: Path, algorithm: str, opener=open, limit: int | None = None) -> str:
    """Hex digest of the file's content as ``opener`` yields it (``gzip.open`` hashes uncompressed).

    With ``limit``, content longer than ``limit`` bytes is refused as soon as it is read that far.
    """
    digest, total = hashlib.new(algorithm), 0
    with opener(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            total += len(chunk)
            if limit is not None and total > limit:
                raise DataError(f"{path} holds more than the {limit} bytes its content may have; "
                                "it is not the official file, delete it and fetch it again")
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, algorithm: str, expected: str, opener=open, limit: int | None = None) -> None:
    """Raise ``DataError`` unless the file's ``algorithm`` digest is ``expected``."""
    try:
        actual = file_digest(path, algorithm, opener, limit)
    except (OSError, EOFError) as error:
        raise DataError(f"{path} cannot be read ({error}); delete it and fetch it again") from None
    _check_digest(path, algorithm, expected, actual)


def verify_bytes(content: bytes, path: Path, algorithm: str, expected: str,
                 remedy: str = "delete it and fetch it again") -> None:
    """``verify`` for content already in memory (read once, checked and parsed from the same bytes).

    ``remedy`` ends the message: a file adamnode cannot download says where to get it instead.
    """
    _check_digest(path, algorithm, expected, hashlib.new(algorithm, content).hexdigest(), remedy)


def _check_digest(path: Path, algorithm: str, expected: str, actual: str,
                  remedy: str = "delete it and fetch it again") -> None:
    if actual != expected:
        raise DataError(
            f"{path} fails its {algorithm.upper()} check (expected {expected}, got {actual}): "
            f"the file is corrupt, truncated or a different version; {remedy}"
        )


def download(url: str, destination: Path, algorithm: str, expected: str, opener=open,
             limit: int | None = None) -> None:
    """Fetch ``url`` to ``destination`` atomically, verified; a failed fetch leaves nothing behind.

    ``limit`` caps the bytes ``opener`` may yield while verifying (a compressed download that
    inflates past it is refused before it is inflated further).
    """
    destination.parent.mkdir(parents=True, exist_ok=True)

    def fetch(out) -> None:
        with urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out)

    try:
        atomic_write(destination, fetch, check=lambda temporary: verify(temporary, algorithm, expected, opener, limit))
    except (OSError, http.client.HTTPException) as error:
        raise DataError(f"could not download {url} ({error}); without network, put the file at {destination}") from None
