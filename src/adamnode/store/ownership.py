"""Which files in a folder adamnode wrote: the manifest, and replacing a folder's content.

Every folder adamnode writes into holds a manifest (written atomically) naming the files adamnode
writes there, the sub-folders it writes into (a comparison's runs, each with a manifest of its
own) and whether adamnode created the folder. A name is recorded *before* its file is first
written, so a kill -9 can leave a recorded file missing, never an unrecorded one. ``--overwrite``
removes exactly what the manifests record (and the temporary files of their atomic writes), then
the folders adamnode created if that leaves them empty: a user's own files in the folder survive,
and a folder without a manifest is not touched at all. Nor is a file written over that exists
unrecorded (``own``): re-rendering a report into a folder where the user keeps a ``results.md`` of
their own is refused. ``--overwrite`` refuses the current folder, the home folder and every folder
above the current one, whatever they hold.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError, DamagedFile
from .atomic import read_json, temporaries, write_json
from .lock import folder_lock
from .names import LOCK_FILE, MANIFEST_FILE
from .paths import child, linked

MANIFEST_FORMAT = "adamnode-files"


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


def own_files(folder: Path, files: Iterable[str]) -> None:
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
        remove_if_empty(sub)


def remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty (the user's files) or already gone
        pass


def replace_output(folder: Path, files: Iterable[str], folders: Iterable[str] = (), created: bool = False) -> None:
    """Clear what adamnode wrote in ``folder`` before (``check_output`` allowed it) and record the new files.

    Call it only once the new run or comparison has been loaded and checked: from here on the old
    one is gone.
    """
    old = read_manifest(folder)
    clear_owned(folder)
    record(folder, files, folders, created=created or bool(old and old["created"]))
