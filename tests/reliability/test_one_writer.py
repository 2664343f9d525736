"""One writer per folder: a second process that would write a run or comparison folder is refused
with the holder's process id, and a killed holder leaves no stale lock."""

from __future__ import annotations

import csv
import time

from cli_helpers import TINY, adamnode, one_line_error, start_adamnode


def start_long_run(*args: str, out, run=None):
    """The command in the background with ``--out out``, returned once ``run`` (default ``out``) has an epoch."""
    process = start_adamnode(*args, "--out", str(out))
    metrics = (run or out) / "metrics.csv"
    deadline = time.monotonic() + 90
    while not metrics.exists() or len(list(csv.DictReader(open(metrics)))) < 1:
        assert time.monotonic() < deadline and process.poll() is None, "the run never finished an epoch"
        time.sleep(0.05)
    return process


def test_a_second_writer_of_a_run_folder_is_refused_with_the_holders_pid(tmp_path):
    out = tmp_path / "run"
    holder = start_long_run("train", "--model", "node", *TINY, "--epochs", "1000", out=out)
    try:
        second = (("train", "--model", "hbnode", *TINY, "--epochs", "1", "--out", str(out), "--overwrite"),
                  ("report", str(out)),
                  ("train", "--resume", str(out), "--epochs", "1000"))
        for args in second:
            result = adamnode(*args, timeout=90)
            line = one_line_error(result)
            assert result.returncode == 1 and str(out) in line and f"pid {holder.pid}" in line, args
        assert holder.poll() is None, "the first writer must keep running"
    finally:
        holder.kill()
        holder.wait()
    # kill -9 leaves no stale lock: the next writer goes ahead.
    result = adamnode("report", str(out))
    assert result.returncode == 0, result.stderr


def test_a_second_writer_of_a_comparison_folder_is_refused(tmp_path):
    out = tmp_path / "cmp"
    holder = start_long_run("compare", "--models", "node", *TINY, "--epochs", "1000", out=out, run=out / "node-seed0")
    try:
        result = adamnode("compare", "--resume", str(out), timeout=90)
        line = one_line_error(result)
        assert result.returncode == 1 and str(out) in line and f"pid {holder.pid}" in line
    finally:
        holder.kill()
        holder.wait()
