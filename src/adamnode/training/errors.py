"""The harness's failures, split by who must act: the user's input, or the run itself.

The command line maps ``ConfigError`` to exit status 2 (fix the invocation) and ``RunError`` to 1
(the run failed); every message is one line that names the problem and the fix.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad input: an unknown task, model or option, an invalid value, an unusable output folder."""


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
