"""Running the ``adamnode`` command as a user would: a fresh Python process per call."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
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


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def metrics_rows(run_dir: Path) -> list[dict]:
    return csv_rows(run_dir / "metrics.csv")


def without_timing(table: list[dict]) -> list[dict]:
    """The rows without their wall-clock columns, which differ between equal runs."""
    return [{key: value for key, value in row.items() if "seconds" not in key} for row in table]


def wait_for_an_epoch(process: subprocess.Popen, *run_dirs: Path, timeout: float) -> None:
    """Return once every run folder's metrics.csv holds an epoch, ``process`` still running."""
    deadline = time.monotonic() + timeout
    while not all((run / "metrics.csv").is_file() and metrics_rows(run) for run in run_dirs):
        assert time.monotonic() < deadline and process.poll() is None, "the runs never finished an epoch"
        time.sleep(0.05)
