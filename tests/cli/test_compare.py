"""``adamnode compare``, ``report`` and ``info`` on tiny settings."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from adamnode.cli import main
from adamnode.tasks import get_task
from cli_helpers import TINY, adamnode, csv_rows, wait_for_an_epoch, without_timing


def test_compare_trains_every_model_and_seed_then_tabulates_and_plots(tmp_path, capsys):
    out = tmp_path / "cmp"
    result = adamnode("compare", *TINY, "--models", "node,hbnode", "--seeds", "2", "--epochs", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert table[0].split("|")[1].strip() == "model" and len(table) == 3
    assert [line.split("|")[3].strip() for line in table[1:]] == ["2", "2"]  # seeds per model
    with open(out / "results.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["model"] for row in rows] == ["node", "hbnode"] and {row["complete"] for row in rows} == {"2"}
    assert sorted(path.name for path in out.iterdir() if path.is_dir()) == [
        "hbnode-seed0", "hbnode-seed1", "node-seed0", "node-seed1"]
    for name in ("train_loss.png", "nfe_forward.png", "nfe_backward.png", "results.md"):
        assert (out / name).stat().st_size > 0

    # Resuming a finished comparison trains nothing again; report re-renders what was deleted.
    metrics = out / "node-seed0" / "metrics.csv"
    written = metrics.stat().st_mtime_ns
    (out / "results.md").unlink()
    assert main(["compare", "--resume", str(out)]) == 0
    assert metrics.stat().st_mtime_ns == written and (out / "results.md").exists()
    (out / "results.md").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "results.md").exists() and "| hbnode" in capsys.readouterr().out


def test_info_lists_every_model_with_its_parameter_count(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    task = get_task("spheres")
    for model in task.models:
        line = next(line for line in out.splitlines() if line.split()[:1] == [model])
        assert f"{task.parameter_count(model):,}" in line


def test_missing_subcommand_module_leaves_the_others_working(monkeypatch, capsys):
    import adamnode.cli as cli

    monkeypatch.setitem(cli.COMMANDS, "ghost", "adamnode.cli.no_such_module")
    assert "ghost" not in cli.available_commands()
    assert main(["info"]) == 0
    capsys.readouterr()


def test_python_dash_m_runs_the_command():
    result = adamnode("--version")
    assert result.returncode == 0 and result.stdout.startswith("adamnode ")


def test_progress_reaches_a_log_file_while_the_comparison_runs(tmp_path):
    """``nohup adamnode compare ... > log``: each finished run's line is in the file at once, not at exit."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    log = tmp_path / "log"
    with open(log, "w") as stream:
        process = subprocess.Popen([sys.executable, "-m", "adamnode", "compare", "--models", "node,sonode", *TINY,
                                    "--out", str(tmp_path / "c")], stdout=stream, stderr=subprocess.DEVNULL, env=env)
    seen_while_running = False
    while process.poll() is None and not seen_while_running:
        seen_while_running = "[1/2] node seed 0" in log.read_text()
        time.sleep(0.02)
    assert process.wait(timeout=120) == 0
    assert seen_while_running


def test_runs_side_by_side_give_the_same_table_as_one_after_the_other(tmp_path):
    common = ("compare", *TINY, "--models", "node,hbnode", "--seeds", "2", "--threads", "1")
    one = adamnode(*common, "--out", str(tmp_path / "one"))
    side = adamnode(*common, "--jobs", "2", "--out", str(tmp_path / "side"))
    assert one.returncode == 0 and side.returncode == 0, side.stderr
    assert without_timing(csv_rows(tmp_path / "one" / "results.csv")) == without_timing(
        csv_rows(tmp_path / "side" / "results.csv"))
    assert sorted(line.split(":")[0] for line in side.stdout.splitlines() if line.startswith("[")) == [
        "[1/4] node seed 0", "[2/4] hbnode seed 0", "[3/4] node seed 1", "[4/4] hbnode seed 1"]
    # Resumed, the finished runs are kept by the parent: nothing is trained again.
    metrics = tmp_path / "side" / "node-seed0" / "metrics.csv"
    written = metrics.stat().st_mtime_ns
    assert main(["compare", "--resume", str(tmp_path / "side"), "--jobs", "2"]) == 0
    assert metrics.stat().st_mtime_ns == written


def test_stopping_a_comparison_stops_each_running_run_with_a_checkpoint(tmp_path):
    out = tmp_path / "stopped"
    process = subprocess.Popen([sys.executable, "-m", "adamnode", "compare", *TINY, "--models", "node,hbnode",
                                "--epochs", "1000", "--jobs", "2", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = [out / "node-seed0", out / "hbnode-seed0"]
    wait_for_an_epoch(process, *runs, timeout=120)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"comparison stopped during node seed 0, hbnode seed 0; continue it with: adamnode compare --resume {out}" \
        in stderr
    for run in runs:
        assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
        assert (run / "checkpoint.pt").is_file()


def test_jobs_beyond_the_cores_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["compare", *TINY, "--jobs", str(os.cpu_count() + 1), "--out", str(tmp_path / "c")])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and not (tmp_path / "c").exists()
    assert "--jobs must be from 1 to the" in error and error.count("\n") == 1


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.isdigit() and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def test_ctrl_c_while_the_runs_start_stops_in_one_line(tmp_path):
    """A terminal's Ctrl-C goes to its whole process group, children just spawned included."""
    out = tmp_path / "starting"
    process = subprocess.Popen([sys.executable, "-m", "adamnode", "compare", *TINY, "--models", "node,hbnode,sonode",
                                "--epochs", "1000", "--jobs", "2", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(children_of(process.pid)) < 2:  # the runs (and multiprocessing's resource tracker)
        assert time.monotonic() < deadline and process.poll() is None, "no run started"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert f"adamnode compare --resume {out}" in stderr and "Traceback" not in stderr
    assert not (out / "sonode-seed0").exists()
