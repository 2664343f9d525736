"""The run folders' file helpers; they live in ``adamnode.files``, shared with the data loaders."""

from ..files import atomic_write, read_json, write_json, write_text

__all__ = ["atomic_write", "read_json", "write_json", "write_text"]
