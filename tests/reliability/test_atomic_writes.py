"""One atomic write routine: every file adamnode writes goes through ``adamnode.store.atomic_write``."""

from __future__ import annotations

import re
from pathlib import Path

import adamnode

SOURCE = Path(adamnode.__file__).parent


def test_only_the_atomic_write_helper_renames_or_creates_temporary_files():
    offenders = []
    for path in SOURCE.rglob("*.py"):
        text = path.read_text()
        for pattern in (r"os\.replace\(", r"os\.rename\(", r"tempfile\.", r"\.write_bytes\(", r"\.write_text\(", r"\.open\(\"w", r"savefig\(path"):
            if re.search(pattern, text) and path.relative_to(SOURCE).as_posix() != "store/atomic.py":
                offenders.append(f"{path.relative_to(SOURCE)}: {pattern}")
    assert not offenders
