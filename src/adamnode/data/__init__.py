"""Data loaders: each reads a benchmark's official files, verified, into tensors."""

from .store import DataError, resolve_data_dir

__all__ = ["DataError", "resolve_data_dir"]
