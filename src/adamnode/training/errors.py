"""The harness's failures: defined once in ``adamnode.errors``; this name stays for old imports."""

from ..errors import CheckpointError, ConfigError, DamagedFile, Diverged, FolderBusy, Interrupted, RunError

__all__ = ["CheckpointError", "ConfigError", "DamagedFile", "Diverged", "FolderBusy", "Interrupted", "RunError"]
