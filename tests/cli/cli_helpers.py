"""Running the ``adamnode`` command as a user would: a fresh Python process per call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TINY = ("--preset", "tiny")


def adamnode(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m adamnode ARGS``; stdout and stderr captured as text."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("ADAMNODE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "adamnode", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


def start_adamnode(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "adamnode", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single ``adamnode: error:`` line a failed command must print, and nothing else."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("adamnode: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
