"""Every error class adamnode raises, in one low-level module that imports nothing of adamnode.

The classes are kinds, split by who must act: the caller's input (``ConfigError``, ``DataError``,
``DamagedFile``: fix the call or the file), or the run itself (``RunError`` and its kinds). Their
messages name library keywords and file paths, never command-line flags: the command line maps a
class to its exit status and a keyword to its flag (``adamnode.cli.EXIT_STATUSES`` and
``adamnode.cli.flags``).

The solver's own failure, ``SolverError`` with its ``FailureKind``, is defined beside the solve
(``adamnode.solve.errors``) and handed on from here on first use, so that importing this module
imports no torch.
"""

from __future__ import annotations

import importlib as _importlib


class ConfigError(ValueError):
    """Bad input: an unknown task, model or option, an invalid value, an unusable output folder."""


class DataError(ValueError):
    """Missing, corrupt or malformed data; the message names the file and the fix."""


class DamagedFile(ConfigError):
    """A file that adamnode wrote cannot be read back as what it should be (a manifest, a run record, a
    comparison's or a study's record): whichever module noticed, this is the class raised, and the
    message names the file and what to do (restore it, or start again)."""


class RunError(RuntimeError):
    """A run that could not finish; whatever was saved before the failure is kept."""


class CheckpointError(RunError):
    """A checkpoint that cannot be read or does not fit the run; the file is left as it is."""


class Diverged(RunError):
    """The loss became NaN or Inf."""


class Interrupted(RunError):
    """The user stopped the run (Ctrl-C); a checkpoint was written if the message says so."""


class FolderBusy(RunError):
    """Another process holds the folder's write lock; nothing was written."""


_SOLVE = {"SolverError", "FailureKind"}


def __getattr__(name: str):
    if name in _SOLVE:
        value = getattr(_importlib.import_module("adamnode.solve.errors"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CheckpointError", "ConfigError", "DamagedFile", "DataError", "Diverged", "FailureKind", "FolderBusy",
           "Interrupted", "RunError", "SolverError"]
