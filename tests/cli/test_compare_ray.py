"""``adamnode compare --backend ray``: the same table as ``--jobs 1``, through a killed worker, a Ctrl-C
and its resume; one-line refusals for a bad address and a missing Ray.

One Ray instance serves the module: started here on 127.0.0.1 only (2 CPUs) and stopped at its end;
each ``compare`` connects to it with ``--ray-address``. Skipped where Ray is not installed, except the
test of that case, which makes the import fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adamnode.cli import main
from adamnode.training.checkpoint import load_checkpoint
from adamnode.errors import CheckpointError
from cli_helpers import TINY, adamnode, csv_rows, metrics_rows, without_timing

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason='Ray is not installed (pip install -e ".[ray]")')
#: Ray turns a loopback node address into the machine's network one unless this is 0.
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
#: Two runs long enough (a few seconds each of training) to be killed and stopped after an epoch.
EPOCHS = 60
SETTINGS = (*TINY, "--models", "node,hbnode", "--epochs", str(EPOCHS), "--threads", "1")


@pytest.fixture(scope="module")
def cluster():
    """The address of a Ray instance on 127.0.0.1 with 2 CPUs, for this module's tests."""
    # Set before ray is imported (its constants read it), and inherited by the drivers; ray.init sets
    # RAY_AUTH_MODE=token for them (Ray's default for a new instance). Both are put back afterwards.
    previous = {name: os.environ.get(name) for name in (LOOPBACK_ONLY, "RAY_AUTH_MODE")}
    os.environ[LOOPBACK_ONLY] = "0"
    import ray

    ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=2, include_dashboard=False,
             configure_logging=False, log_to_driver=False)
    try:
        assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def one_after_the_other(tmp_path_factory) -> list[dict]:
    """The table of ``--jobs 1`` for ``SETTINGS``, without its timing columns (trained in this
    process: a second interpreter would add seconds)."""
    out = tmp_path_factory.mktemp("jobs1") / "c"
    assert main(["compare", *SETTINGS, "--out", str(out)]) == 0
    return without_timing(csv_rows(out / "results.csv"))


def on_ray(cluster: str, *args: str) -> list[str]:
    return ["compare", *args, "--backend", "ray", "--ray-address", cluster]


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "adamnode", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise AssertionError(f"{what} never happened: {process.communicate()[1][-3000:]}")
        time.sleep(0.02)


def trained_an_epoch(run: Path) -> bool:
    return (run / "metrics.csv").is_file() and bool(metrics_rows(run))


def checkpointed_an_epoch(run: Path) -> bool:
    try:
        return load_checkpoint(run / "checkpoint.pt")["epoch"] >= 1 and trained_an_epoch(run)
    except CheckpointError:  # not written yet
        return False


@needs_ray
def test_ray_gives_the_table_of_jobs_1(cluster, one_after_the_other, tmp_path):
    out = tmp_path / "ray"
    result = adamnode(*on_ray(cluster, *SETTINGS, "--out", str(out)))
    assert result.returncode == 0, result.stderr
    assert without_timing(csv_rows(out / "results.csv")) == one_after_the_other
    assert sorted(line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("[")) == [
        "[1/2] node seed 0", "[2/2] hbnode seed 0"]


@needs_ray
def test_a_killed_worker_is_retried_from_its_checkpoint_then_ctrl_c_and_resume_complete(
        cluster, one_after_the_other, tmp_path):
    """Both faults in one comparison: each Ray driver and its workers take seconds to start."""
    out = tmp_path / "faults"
    run = out / "node-seed0"
    process = start(on_ray(cluster, *SETTINGS, "--out", str(out)))
    wait_for(lambda: checkpointed_an_epoch(run), process, "a checkpoint after an epoch of node")
    first_epoch = (run / "metrics.csv").read_text().splitlines()[1]
    worker = int((run / ".adamnode.lock").read_text())  # the process that holds the run's folder
    assert worker not in (os.getpid(), process.pid)
    os.kill(worker, signal.SIGKILL)
    # Ray runs the task again; it resumes (the kill left at least one epoch to train) and trains on.
    wait_for(lambda: (run / ".adamnode.lock").is_file() and (run / ".adamnode.lock").read_text().strip()
             not in ("", str(worker)) and len(metrics_rows(run)) > 1 and not (run / "summary.json").is_file(),
             process, "node trains again after its worker was killed")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "node seed 0: attempt 2 of 4 (the worker of the one before died)" in stderr
    assert "comparison stopped during node seed 0" in stderr
    assert f"continue it with: adamnode compare --resume {out} --backend ray --ray-address {cluster}" in stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 1 <= summary["epochs_completed"] < EPOCHS
    assert (run / "checkpoint.pt").is_file()

    result = adamnode("compare", "--resume", str(out), "--backend", "ray", "--ray-address", cluster)
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "summary.json").read_text())["epochs_completed"] == EPOCHS
    # Resumed each time, never started again: the first epoch's row, with its wall time, is the one
    # written before the kill.
    assert (run / "metrics.csv").read_text().splitlines()[1] == first_epoch
    assert without_timing(csv_rows(out / "results.csv")) == one_after_the_other


@needs_ray
def test_an_address_where_no_cluster_answers_is_one_line_naming_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["compare", *TINY, "--backend", "ray", "--ray-address", "127.0.0.1:1", "--out", str(tmp_path / "c")])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.count("\n") == 1 and not (tmp_path / "c").exists()
    assert error.startswith("adamnode: error: cannot reach the Ray cluster at --ray-address 127.0.0.1:1 (")


def test_without_ray_one_line_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    monkeypatch.delenv(LOOPBACK_ONLY, raising=False)  # restored afterwards, whatever adamnode sets
    with pytest.raises(SystemExit) as stop:
        main(["compare", *TINY, "--backend", "ray", "--out", str(tmp_path / "c")])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.count("\n") == 1 and not (tmp_path / "c").exists()
    assert error.startswith("adamnode: error: --backend ray needs Ray, which is not installed: ")
    assert 'pip install -e ".[ray]"' in error


def test_options_of_the_other_backend_are_refused_in_one_line(tmp_path, capsys):
    for args, expected in ((["--ray-address", "auto"], "--ray-address names the Ray cluster of --backend ray"),
                           (["--backend", "ray", "--jobs", "2"], "--jobs sizes this machine's process pool")):
        with pytest.raises(SystemExit) as stop:
            main(["compare", *TINY, *args, "--out", str(tmp_path / "c")])
        error = capsys.readouterr().err
        assert stop.value.code == 2 and error.count("\n") == 1 and expected in error
