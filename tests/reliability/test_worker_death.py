"""``compare --jobs N`` when a run's process is killed outright (kill -9, out of memory): the
comparison's last line says that process died and by which signal, and multiprocessing's
"leaked semaphore" warning does not follow it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from adamnode.cli import compare as compare_command
from adamnode.cli import main
from adamnode.training import comparison
from adamnode.errors import RunError
from adamnode.training.processes import ProcessLost


def hold_a_semaphore_and_die() -> None:
    """What a training run killed by kill -9 looks like to its parent: a semaphore made (tqdm's lock
    is one in a spawned process), never released, no result sent."""
    lock = multiprocessing.Lock()
    lock.acquire()
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_by_sigkill_is_named_with_its_signal_and_no_semaphore_warning_follows():
    # The warning comes from the resource tracker when the parent ends: the parent is a process of its own.
    parent = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
              "from test_worker_death import hold_a_semaphore_and_die\n"
              "from adamnode.training.processes import in_processes\n"
              "print(dict(in_processes(hold_a_semaphore_and_die, [()], 1))[0])\n")
    result = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # it held "There appear to be 1 leaked semaphore objects"
    assert "its process died without a result (killed by SIGKILL" in result.stdout


def test_compares_last_line_says_which_runs_process_died_and_how(monkeypatch, tmp_path, capsys):
    def in_processes(function, calls, workers):
        yield 0, ProcessLost("killed by SIGKILL, out of memory?")
        yield 1, RunError("the loss became nan")

    monkeypatch.setattr(comparison, "in_processes", in_processes)
    monkeypatch.setattr(compare_command, "available_cores", lambda: 8)
    monkeypatch.setattr(compare_command, "check_comparison", lambda *args: None)  # no data or models needed
    monkeypatch.setattr(compare_command, "render", lambda out: "")
    with pytest.raises(SystemExit) as exit_:
        main(["compare", "--models", "node,hbnode", "--preset", "tiny", "--jobs", "2", "--threads", "1",
              "--out", str(tmp_path / "cmp")])
    captured = capsys.readouterr()
    assert exit_.value.code == 1
    assert captured.err == ("adamnode: error: 2 of 2 runs failed (node seed 0, whose process died (killed by "
                            "SIGKILL, out of memory?); hbnode seed 0); each run's error is on its FAILED line in "
                            "the output above\n")
    assert "[1/2] node seed 0: FAILED: its process died without a result (killed by SIGKILL" in captured.out
