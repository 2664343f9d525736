"""Paths inside adamnode's folders: a name read back from a file, and the link rule.

**Names read back.** Whatever name comes out of a file (a manifest, ``comparison.json``) becomes a
path only through ``child``, which refuses anything but a plain name that stays inside its folder.

**No links.** Nothing adamnode writes, locks or deletes in its folders may be a symbolic link: the
lock file, the manifest, every recorded file and every recorded sub-folder. A link there was put
by someone else and may lead anywhere (to a user's file, to another run of the same comparison), so
it is refused with one line naming it, never followed, replaced or removed. The folder given as
``--out`` may itself be a link: that is the user's explicit choice.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, DamagedFile


def child(folder: Path, name, what: str) -> Path:
    """``folder / name`` for a ``name`` read back from ``what``; ``DamagedFile`` unless it stays inside.

    Only a plain name is accepted (no separator, not ``.`` or ``..``), and the path must resolve
    inside ``folder``; a symbolic link is refused wherever it leads (to a sibling run, say, whose
    files adamnode would then write over or delete).
    """
    plain = (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
             and "\0" not in name and os.sep not in name)
    path = Path(folder) / name if plain else None
    if path is None or Path(os.path.realpath(path)).parent != Path(os.path.realpath(folder)):
        raise DamagedFile(f"{what} names {name!r}, which is not a plain name inside {folder}; the file was "
                          "altered or damaged, restore it or start again with --overwrite")
    if path.is_symlink():
        raise linked(path)
    return path


def linked(path: Path) -> ConfigError:
    """The refusal of a symbolic link found where adamnode writes, locks or deletes."""
    return ConfigError(f"{path} is a symbolic link, which adamnode never follows, replaces or deletes in the folders "
                       "it writes; remove the link yourself, or choose another folder")
