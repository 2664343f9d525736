"""Data parallelism on two CPU processes (gloo) against one process on the same global batches.

With a fixed-step solver each shard is solved exactly as the whole batch is, so gradients, losses,
metrics and NFE must agree to rounding. Adaptive solvers pick their steps from the batch they see,
so only evaluation (whole batches dealt out to the ranks) is exactly comparable there.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from adamnode.solve import FailureKind, SolverError
from adamnode.tasks.base import Split
from adamnode.tasks.spheres import SpheresTask
from adamnode.training.checkpoint import load_checkpoint
from adamnode.config.settings import resolve_config
from adamnode.errors import Diverged
from adamnode.training.run import train_run
from adamnode.training.trainer import Trainer
from adamnode.store import RunFolder

# 6 examples in global batches of 5: one step split 3 + 2, then one of a single example that
# leaves rank 1 empty-handed. 7 test examples in batches of 5: one whole batch per rank.
FIXED_STEP = {"model": "adamnode", "preset": "tiny", "method": "rk4", "step_size": 0.25, "seminorm": False,
              "batch_size": 5, "train_subset": 6, "test_subset": 7, "epochs": 1}
ADAPTIVE = {**FIXED_STEP, "method": "dopri5", "step_size": None, "seminorm": True}
EXACT_COLUMNS = ("steps", "train_accuracy", "test_accuracy", "nfe_forward", "nfe_backward", "test_nfe_forward")
#: Seconds for the spawned ranks to import torch and finish; a hang, not a slow machine, should trip it.
WORKERS_TIMEOUT = 300


def float64_trainer(settings: dict, run_dir: Path) -> Trainer:
    task = SpheresTask()
    load = task.load
    task.load = lambda values, device: tuple(Split(split.inputs.double(), split.targets)
                                             for split in load(values, device))
    run_dir.mkdir(parents=True, exist_ok=True)
    return Trainer(resolve_config(settings), task, RunFolder(run_dir), torch.device("cpu"), show_progress=False)


def measure(run_dir: Path) -> dict:
    """In float64: the gradient of every step of one epoch, the epoch's record, and an adaptive
    evaluation of the initial weights."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        adaptive = float64_trainer(ADAPTIVE, run_dir / "adaptive")
        evaluation = adaptive.evaluate(adaptive.test_split).as_dict()
        trainer = float64_trainer(FIXED_STEP, run_dir / "fixed")
        gradients, update = [], trainer._update

        def recording_update(loss):
            update(loss)
            gradients.append([parameter.grad.clone() for parameter in trainer.model.parameters()])

        trainer._update = recording_update
        trainer.fit()
    finally:
        torch.set_default_dtype(default)
    return {"gradients": gradients, "record": trainer.history[0], "evaluation": evaluation}


def faults_on_rank_one(run_dir: Path) -> list[str]:
    """What each rank raises when only rank 1's loss turns NaN, and when only rank 1's solve fails."""
    raised = []
    nan = Trainer(resolve_config(FIXED_STEP), SpheresTask(), RunFolder(run_dir), torch.device("cpu"), show_progress=False)
    if dist.get_rank() == 1:
        loss = nan.task.loss
        nan.task.loss = lambda output, target: loss(output, target) * float("nan")
    with pytest.raises(Diverged) as diverged:
        nan.fit()
    raised.append(str(diverged.value))
    failing = Trainer(resolve_config(FIXED_STEP), SpheresTask(), RunFolder(run_dir), torch.device("cpu"), show_progress=False)
    if dist.get_rank() == 1:
        def fail(*inputs):
            raise SolverError(FailureKind.STEP_UNDERFLOW, "step size underflow", t=0.5, dt=1e-12, nfe=40, phase="forward", method="rk4")

        failing.model.forward = fail
    with pytest.raises(SolverError) as failed:
        failing.fit()
    raised.append(failed.value.reason)
    return raised


def worker(rank: int, store: str, out: Path) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        results = measure(out / f"rank{rank}")
        results["faults"] = faults_on_rank_one(out / f"faults{rank}")
        torch.save(results, out / f"rank{rank}.pt")
        dist.barrier()  # as the library does: never tear the group down under a rank still using it
    finally:
        dist.destroy_process_group()


def run_workers(out: Path) -> None:
    context = mp.start_processes(worker, args=(str(out / "store"), out), nprocs=2, join=False, start_method="spawn")
    deadline = time.monotonic() + WORKERS_TIMEOUT
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the two ranks did not finish: a collective is waiting for a rank that left")


def test_two_ranks_give_the_single_process_gradients_metrics_and_nfe(tmp_path):
    run_workers(tmp_path)
    single = measure(tmp_path / "single")
    assert len(single["gradients"]) == 2
    for rank in (0, 1):
        ranked = torch.load(tmp_path / f"rank{rank}.pt", weights_only=False)
        for step, (mine, reference) in enumerate(zip(ranked["gradients"], single["gradients"])):
            for gradient, expected in zip(mine, reference):
                torch.testing.assert_close(gradient, expected, rtol=1e-9, atol=1e-12, msg=f"step {step + 1}")
        record, expected = ranked["record"], single["record"]
        assert {key: record[key] for key in EXACT_COLUMNS} == {key: expected[key] for key in EXACT_COLUMNS}
        assert record["train_loss"] == pytest.approx(expected["train_loss"], rel=1e-12)
        assert record["test_loss"] == pytest.approx(expected["test_loss"], rel=1e-12)
        evaluation = {key: value for key, value in ranked["evaluation"].items() if key != "seconds"}
        expected_evaluation = {key: value for key, value in single["evaluation"].items() if key != "seconds"}
        # pytest.approx takes flat mappings only: the task's extra metric sums (a list) on their own.
        assert evaluation.pop("extra_sums") == pytest.approx(expected_evaluation.pop("extra_sums"), rel=1e-12)
        assert evaluation == pytest.approx(expected_evaluation, rel=1e-12)
        assert evaluation["nfe_forward"] == expected_evaluation["nfe_forward"]
        nan_message, solver_reason = ranked["faults"]
        assert "the loss became nan at epoch 1, step 1" in nan_message
        assert solver_reason == "step size underflow (on rank 1)"


def metrics_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as stream:
        return [{key: float(value) for key, value in row.items() if "seconds" not in key}
                for row in csv.DictReader(stream)]


def torchrun_train(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "adamnode", "train", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=WORKERS_TIMEOUT)


def test_torchrun_training_and_resume_match_a_single_process(tmp_path):
    # Global batch 25 of 64 points: shards of 13 and 12, then 7 and 7; a fixed-step solver.
    settings = ["--model", "hbnode", "--preset", "tiny", "--method", "rk4", "--step-size", "0.25", "--no-seminorm",
                "--batch-size", "25"]
    single = tmp_path / "single"
    train_run(resolve_config({"model": "hbnode", "preset": "tiny", "method": "rk4", "step_size": 0.25, "seminorm": False,
                              "batch_size": 25}), RunFolder(single), show_progress=False, log=None)
    parallel = tmp_path / "parallel"
    first = torchrun_train(*settings, "--epochs", "1", "--out", str(parallel))
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("epochs done") == 1, "only rank 0 reports"
    resumed = torchrun_train("--resume", str(parallel), "--epochs", "2")
    assert resumed.returncode == 0, resumed.stderr

    expected, got = metrics_rows(single), metrics_rows(parallel)
    assert [row["epoch"] for row in got] == [1, 2]
    for row, reference in zip(got, expected):
        assert row == pytest.approx(reference, rel=1e-5, abs=1e-6)
        assert [row[key] for key in ("steps", "nfe_forward", "nfe_backward", "test_nfe_forward")] == \
               [reference[key] for key in ("steps", "nfe_forward", "nfe_backward", "test_nfe_forward")]
    assert json.loads((parallel / "config.json").read_text())["processes"] == 2
    assert json.loads((parallel / "summary.json").read_text())["status"] == "complete"
    weights, reference_weights = (load_checkpoint(run / "checkpoint.pt")["model"] for run in (parallel, single))
    assert weights.keys() == reference_weights.keys(), "checkpoints hold the unwrapped model"
    for key in weights:
        torch.testing.assert_close(weights[key], reference_weights[key], rtol=1e-4, atol=1e-5)
