"""Run and comparison folders: which files in them adamnode wrote, and which process may write them.

**Ownership.** Every folder adamnode writes into holds a manifest, ``.adamnode-files.json``
(written atomically), naming the files adamnode writes there, the sub-folders it writes into (a
comparison's runs, each with a manifest of its own) and whether adamnode created the folder. A
name is recorded *before* its file is first written, so a kill -9 can leave a recorded file
missing, never an unrecorded one. ``--overwrite`` removes exactly what the manifests record (and
the temporary files of their atomic writes), then the folders adamnode created if that leaves
them empty: a user's own files in the folder survive, and a folder without a manifest is not
touched at all. Nor is a file written over that exists unrecorded (``claim``): re-rendering a
report into a folder where the user keeps a ``results.md`` of their own is refused.
``--overwrite`` refuses the current folder, the home folder and every folder above the current
one, whatever they hold.

**One writer.** ``folder_lock`` takes an exclusive ``flock`` on ``.adamnode.lock`` in the folder
for as long as a command writes there. The lock belongs to the open file, so it dies with its
process (a kill -9 leaves no stale lock); a second writer is refused at once with the holder's
process id. The lock file is removed on release; a file left by a killed process is harmless.

**Names read back.** Whatever name comes out of a file (a manifest, ``comparison.json``) becomes a
path only through ``child``, which refuses anything but a plain name that stays inside its folder.

**No links.** Nothing adamnode writes, locks or deletes in its folders may be a symbolic link: the
lock file, the manifest, every recorded file and every recorded sub-folder. A link there was put
by someone else and may lead anywhere (to a user's file, to another run of the same comparison), so
it is refused with one line naming it, never followed, replaced or removed. The folder given as
``--out`` may itself be a link: that is the user's explicit choice.
"""

from __future__ import annotations

import json
import os
import stat
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from ..files import read_json, temporaries, write_json
from ..errors import ConfigError, DamagedFile, FolderBusy
from .runtime import is_main_process

try:
    import fcntl
except ImportError:  # not POSIX: no OS-level lock available, writers are not serialised
    fcntl = None

from ..store import LOCK_FILE, MANIFEST_FILE  # noqa: F401  (their home is the store)
MANIFEST_FORMAT = "adamnode-files"


def child(folder: Path, name, what: str) -> Path:
    """``folder / name`` for a ``name`` read back from ``what``; ``ConfigError`` unless it stays inside.

    Only a plain name is accepted (no separator, not ``.`` or ``..``), and the path must resolve
    inside ``folder``; a symbolic link is refused wherever it leads (to a sibling run, say, whose
    files adamnode would then write over or delete).
    """
    plain = (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
             and "\0" not in name and os.sep not in name)
    path = Path(folder) / name if plain else None
    if path is None or Path(os.path.realpath(path)).parent != Path(os.path.realpath(folder)):
        raise ConfigError(f"{what} names {name!r}, which is not a plain name inside {folder}; the file was "
                          "altered or damaged, restore it or start again with --overwrite")
    if path.is_symlink():
        raise linked(path)
    return path


def linked(path: Path) -> ConfigError:
    """The refusal of a symbolic link found where adamnode writes, locks or deletes."""
    return ConfigError(f"{path} is a symbolic link, which adamnode never follows, replaces or deletes in the folders "
                       "it writes; remove the link yourself, or choose another folder")


# --- the manifest -------------------------------------------------------------------------------

def read_manifest(folder: Path) -> dict | None:
    """The manifest of ``folder`` (names checked), ``None`` where it has none; ``ConfigError`` if damaged."""
    path = Path(folder) / MANIFEST_FILE
    if path.is_symlink():  # another folder's manifest would make its names ours to delete here
        raise linked(path)
    if not path.is_file():
        return None
    try:
        manifest = read_json(path)
    except (OSError, ValueError) as error:
        raise _damaged(path, " ".join(str(error).split())) from None
    if not (isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT
            and isinstance(manifest.get("files"), list) and isinstance(manifest.get("folders"), list)
            and isinstance(manifest.get("created"), bool)):
        raise _damaged(path, "not an adamnode manifest")
    for name in manifest["files"] + manifest["folders"]:
        child(folder, name, str(path))
    return manifest


def _damaged(path: Path, reason: str) -> DamagedFile:
    return DamagedFile(f"{path} is damaged ({reason}); without it adamnode cannot tell its files from yours, "
                       "so delete the folder yourself or choose another --out")


def record(folder: Path, files: Iterable[str] = (), folders: Iterable[str] = (), created: bool | None = None) -> None:
    """Add ``files`` and sub-``folders`` to ``folder``'s manifest (creating it) before they are written."""
    folder = Path(folder)
    manifest = read_manifest(folder) or {"format": MANIFEST_FORMAT, "version": 1, "created": bool(created),
                                         "files": [], "folders": []}
    before = json.dumps(manifest, sort_keys=True)
    for key, names in (("files", files), ("folders", folders)):
        for name in names:
            child(folder, name, "adamnode")  # our own names are plain; this guards the code, not input
            if name not in manifest[key]:
                manifest[key].append(name)
    if created is not None:
        manifest["created"] = created
    if json.dumps(manifest, sort_keys=True) != before or not (folder / MANIFEST_FILE).is_file():
        write_json(folder / MANIFEST_FILE, manifest)


def claim(folder: Path, files: Iterable[str]) -> None:
    """Record ``files`` in ``folder``'s manifest before they are (re)written; ``ConfigError`` if one of
    them exists and adamnode did not write it (``adamnode report`` into a folder the user added to)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    owned = set(manifest["files"]) if manifest else set()
    foreign = [name for name in files
               if name not in owned and ((folder / name).exists() or (folder / name).is_symlink())]
    if foreign:
        raise ConfigError(f"{folder} holds {', '.join(foreign)}, which adamnode did not write and would replace; "
                          "move them out of the folder first")
    record(folder, files)


# --- replacing a folder's content ----------------------------------------------------------------

def check_output(path: Path, overwrite: bool, resumable: bool = True) -> None:
    """Refuse ``path`` as a new output folder unless it is free or ours to replace.

    Reads only: nothing is created, locked or removed here.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file; give a folder path")
    blocked = next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)
    if blocked is not None:
        raise ConfigError(f"--out {path} lies inside {blocked}, which is a file; give a folder path")
    if overwrite:
        _refuse_protected(path)
    if not path.is_dir() or not _holds_anything(path):
        return
    if not overwrite:
        resume = f"continue it with --resume {path}, " if resumable else ""
        raise ConfigError(f"output folder {path} already exists; {resume}replace it with --overwrite, "
                          f"or choose another --out")
    if read_manifest(path) is None:
        raise ConfigError(f"refusing to --overwrite {path}: adamnode did not write it (it holds no {MANIFEST_FILE} "
                          "record of adamnode's files), so nothing in it is adamnode's to delete; choose another --out")
    removal_plan(path)  # every manifest below is read and checked before anything is removed


def _holds_anything(path: Path) -> bool:
    return any(entry.name != LOCK_FILE for entry in path.iterdir())


def _refuse_protected(path: Path) -> None:
    real, here = Path(os.path.realpath(path)), Path(os.path.realpath(Path.cwd()))
    if real == here or real in here.parents:
        raise ConfigError(f"refusing to --overwrite {path}: it is the current folder or a folder above it; "
                          "give the run's own folder as --out")
    if real == Path(os.path.realpath(Path.home())):
        raise ConfigError(f"refusing to --overwrite {path}: it is your home folder; give the run's own folder as --out")


def removal_plan(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """What clearing ``folder`` removes: (files, sub-folders to remove if then empty, sub-folders visited)."""
    manifest = read_manifest(folder)
    if manifest is None:
        return [], [], []
    files, empty, visited = [], [], []
    for name in manifest["folders"]:
        sub = child(folder, name, str(folder / MANIFEST_FILE))
        if not sub.is_dir() or sub.is_symlink() or read_manifest(sub) is None:
            continue  # not there, or not written by adamnode: left alone
        sub_files, sub_empty, sub_visited = removal_plan(sub)
        files += sub_files
        empty += sub_empty + ([sub] if read_manifest(sub)["created"] else [])
        visited += sub_visited + [sub]
    for name in manifest["files"] + [MANIFEST_FILE]:
        path = child(folder, name, str(folder / MANIFEST_FILE))
        files += [path] + temporaries(folder, name)
    return files, empty, visited


def clear_owned(folder: Path) -> None:
    """Remove what adamnode recorded in ``folder`` and below; what it did not record stays."""
    files, empty, visited = removal_plan(folder)
    with ExitStack() as locks:
        for sub in visited:  # a run of the comparison that another process is still writing
            locks.enter_context(folder_lock(sub))
        for path in files:
            if path.is_symlink() or path.is_file():  # a link is removed, never followed
                path.unlink()
    for sub in empty:
        _remove_if_empty(sub)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty (the user's files) or already gone
        pass


# --- one writer per folder -----------------------------------------------------------------------

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


@contextmanager
def writing(folder: Path, create: bool) -> Iterator[bool]:
    """Lock ``folder`` for writing, creating it (and missing parents) if ``create``.

    Yields whether this call created ``folder``. Folders it created and that are still empty when
    the block ends (nothing was written, e.g. the new run's data failed its check) are removed.
    """
    folder = Path(folder)
    missing = [] if not create or not is_main_process() else [
        path for path in [folder, *folder.parents] if not path.exists()]
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(folder):
            yield bool(missing)
    finally:
        for path in missing:  # the deepest first
            _remove_if_empty(path)


def replace_output(folder: Path, files: Iterable[str], folders: Iterable[str] = (), created: bool = False) -> None:
    """Clear what adamnode wrote in ``folder`` before (``check_output`` allowed it) and record the new files.

    Call it only once the new run or comparison has been loaded and checked: from here on the old
    one is gone.
    """
    old = read_manifest(folder)
    clear_owned(folder)
    record(folder, files, folders, created=created or bool(old and old["created"]))
