"""The trainer in process: exact resumption from mid-epoch, and what a NaN loss leaves behind."""

from __future__ import annotations

import json
import math
import os
import random
import signal

import numpy as np
import pytest
import torch

from adamnode.solve import FailureKind, SolverError
from adamnode.tasks.spheres import SpheresTask, TimeMLP
from adamnode.training.checkpoint import load_checkpoint
from adamnode.config.settings import resolve_config
from adamnode.errors import ConfigError, Diverged, Interrupted, RunError
from adamnode.training.run import resume_run, resumed_config, train_run
from adamnode.training.trainer import Trainer
from adamnode.store import RunFolder, read_table

# 64 points in batches of 16: four steps per epoch, so a stop can fall inside an epoch.
SETTINGS = {"model": "ghbnode", "preset": "tiny", "batch_size": 16, "epochs": 2}


def config(**changes):
    return resolve_config({**SETTINGS, **changes})


def without_timing(rows: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if "seconds" not in key} for row in rows]


def train_with_ctrl_c_after_three_steps_then_resume(run_dir, monkeypatch, stop_signal=signal.SIGINT):
    update = Trainer._update
    calls = []

    def update_then_ctrl_c(self, loss):
        update(self, loss)
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), stop_signal)

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "_update", update_then_ctrl_c)
        with pytest.raises(Interrupted, match="adamnode train --resume"):
            train_run(config(), RunFolder(run_dir), show_progress=False, log=None)
    state = load_checkpoint(run_dir / "checkpoint.pt")
    assert (state["epoch"], state["step_in_epoch"]) == (0, 3)
    resumed, state = resumed_config(RunFolder(run_dir), {})
    train_run(resumed, RunFolder(run_dir), resume_state=state, show_progress=False, log=None)


def assert_same_run(whole, split):
    assert len(read_table(whole / "metrics.csv")) == 2
    assert without_timing(read_table(split / "metrics.csv")) == without_timing(read_table(whole / "metrics.csv"))
    whole_weights = load_checkpoint(whole / "checkpoint.pt")["model"]
    split_weights = load_checkpoint(split / "checkpoint.pt")["model"]
    assert all(torch.equal(whole_weights[key], split_weights[key]) for key in whole_weights)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch, stop_signal):
    train_run(config(), RunFolder(tmp_path / "whole"), show_progress=False, log=None)
    train_with_ctrl_c_after_three_steps_then_resume(tmp_path / "split", monkeypatch, stop_signal)
    assert_same_run(tmp_path / "whole", tmp_path / "split")


class Killed(BaseException):
    """What a kill -9 leaves: the process gone mid-step, none of the run's handlers run."""


def kill_in_step_four(run_dir, monkeypatch, **changes):
    update, calls = Trainer._update, []

    def update_then_die(self, loss):
        calls.append(1)
        if len(calls) == 4:
            raise Killed
        update(self, loss)

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "_update", update_then_die)
        with pytest.raises(Killed):
            train_run(config(**changes), RunFolder(run_dir), show_progress=False, log=None)
    state = load_checkpoint(run_dir / "checkpoint.pt")
    return state["epoch"], state["step_in_epoch"]


def test_a_run_killed_mid_epoch_resumes_from_its_timed_checkpoint(tmp_path, monkeypatch):
    # A tiny interval makes every step's checkpoint due; the default's ten minutes make none due here.
    assert kill_in_step_four(tmp_path / "default", monkeypatch) == (0, 0)
    assert kill_in_step_four(tmp_path / "split", monkeypatch, checkpoint_minutes=1e-9) == (0, 3)
    resumed, state = resumed_config(RunFolder(tmp_path / "split"), {"checkpoint_minutes": 10.0})
    assert resumed.checkpoint_minutes == 10.0
    train_run(resumed, RunFolder(tmp_path / "split"), resume_state=state, show_progress=False, log=None)
    train_run(config(), RunFolder(tmp_path / "whole"), show_progress=False, log=None)
    assert_same_run(tmp_path / "whole", tmp_path / "split")


def test_resume_continues_the_global_random_streams(tmp_path, monkeypatch):
    """The trainer's own draws use a dedicated generator, so only a user's code shows this: dropout or
    noise drawn from torch's, NumPy's or Python's global generator must continue, not restart, on resume."""
    loss, draws = SpheresTask.loss, []

    def loss_drawing_globally(self, output, target):
        if torch.is_grad_enabled():
            draws.append((torch.rand(()).item(), np.random.rand(), random.random()))
        return loss(self, output, target)

    monkeypatch.setattr(SpheresTask, "loss", loss_drawing_globally)
    train_run(config(), RunFolder(tmp_path / "whole"), show_progress=False, log=None)
    whole, draws[:] = list(draws), []
    train_with_ctrl_c_after_three_steps_then_resume(tmp_path / "split", monkeypatch)
    assert len(whole) == 8 and draws == whole


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    loss = SpheresTask.loss
    training_calls = []

    def loss_turning_nan(self, output, target):
        value = loss(self, output, target)
        if torch.is_grad_enabled():
            training_calls.append(1)
            if len(training_calls) == 6:  # epoch 2, step 2
                return value * math.nan
        return value

    monkeypatch.setattr(SpheresTask, "loss", loss_turning_nan)
    run_dir = tmp_path / "run"
    with pytest.raises(Diverged) as failure:
        train_run(config(epochs=3), RunFolder(run_dir), show_progress=False, log=None)
    assert "loss became nan at epoch 2, step 2" in str(failure.value)
    assert str(run_dir / "checkpoint.pt") in str(failure.value)
    state = load_checkpoint(run_dir / "checkpoint.pt")
    assert (state["epoch"], state["step_in_epoch"]) == (1, 0)
    assert all(bool(torch.isfinite(tensor).all()) for tensor in state["model"].values())
    assert len(read_table(run_dir / "metrics.csv")) == 1
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "diverged" and "epoch 2, step 2" in summary["error"]


def test_non_finite_gradient_stops_the_run_before_it_corrupts_the_weights(tmp_path, monkeypatch, nan_gradient):
    loss = SpheresTask.loss
    training_calls = []

    def loss_with_nan_gradient(self, output, target):
        if torch.is_grad_enabled():
            training_calls.append(1)
            if len(training_calls) == 3:  # epoch 1, step 3
                output = nan_gradient(output)
        return loss(self, output, target)

    monkeypatch.setattr(SpheresTask, "loss", loss_with_nan_gradient)
    run_dir = tmp_path / "run"
    with pytest.raises(Diverged, match="gradient became nan at epoch 1, step 3"):
        # Direct backprop: with the adjoint the NaN would stop the backward solve first.
        train_run(config(epochs=2, gradient="direct"), RunFolder(run_dir), show_progress=False, log=None)
    state = load_checkpoint(run_dir / "checkpoint.pt")
    assert all(bool(torch.isfinite(tensor).all()) for tensor in state["model"].values())


def test_the_trainer_redoes_nothing_a_failed_backward_fails_the_run(tmp_path, monkeypatch):
    """Retries of warm solves are the block's (tests/solve); one that escapes it is final."""
    def update_failing(self, loss):
        raise SolverError(FailureKind.STEP_UNDERFLOW, "step size underflow", t=0.5, dt=1e-12, nfe=40,
                          phase="backward", method="dopri5", warm_started=True)

    monkeypatch.setattr(Trainer, "_update", update_failing)
    with pytest.raises(RunError, match="epoch 1, step 1: dopri5 backward solve failed"):
        train_run(config(epochs=1), RunFolder(tmp_path / "run"), show_progress=False, log=None)


def test_a_resumed_run_keeps_its_warm_start_setting(tmp_path):
    train_run(config(epochs=1, warm_start=True), RunFolder(tmp_path / "run"), show_progress=False, log=None)
    resumed, _ = resumed_config(RunFolder(tmp_path / "run"), {"epochs": 2})
    assert resumed.solver.warm_start and not config().solver.warm_start
    with pytest.raises(ConfigError, match="--warm-start cannot change"):
        resumed_config(RunFolder(tmp_path / "run"), {"epochs": 2, "warm_start": False})


def test_max_steps_and_subsets_bound_the_work(tmp_path):
    trainer = Trainer(config(max_steps=2, train_subset=40, test_subset=24, epochs=1), SpheresTask(), RunFolder(tmp_path),
                      torch.device("cpu"), show_progress=False)
    assert (len(trainer.train_split), len(trainer.test_split), trainer.steps_per_epoch) == (40, 24, 2)
    trainer.fit()
    assert [row["steps"] for row in trainer.history] == [2]
    assert trainer.evaluate(trainer.test_split).samples == 24


def test_learning_rate_decays_every_given_number_of_steps(tmp_path):
    summary = train_run(config(lr=0.01, lr_decay=0.5, lr_decay_every=4, epochs=2), RunFolder(tmp_path / "run"),
                        show_progress=False, log=None)
    # Eight steps in all, a decay after the fourth and the eighth.
    assert summary["final"]["lr"] == pytest.approx(0.01 * 0.5 ** 2)


@pytest.mark.parametrize("adjoint", [True, False])
def test_metrics_nfe_backward_is_the_epochs_backward_evaluations_per_step(tmp_path, monkeypatch, adjoint):
    """Counted by the field itself, not by the blocks' stats: calls of ``f`` made inside ``loss.backward()``."""
    in_backward, backward_calls = [False], []
    forward, update = TimeMLP.forward, Trainer._update

    def counting_forward(self, t, h):
        if in_backward[0]:
            backward_calls[-1] += 1
        return forward(self, t, h)

    def update_counting(self, loss):
        backward_calls.append(0)
        in_backward[0] = True
        try:
            update(self, loss)
        finally:
            in_backward[0] = False

    monkeypatch.setattr(TimeMLP, "forward", counting_forward)
    monkeypatch.setattr(Trainer, "_update", update_counting)
    train_run(config(gradient="adjoint" if adjoint else "direct"), RunFolder(tmp_path / "run"), show_progress=False, log=None)
    rows = read_table(tmp_path / "run" / "metrics.csv")
    steps = rows[0]["steps"]
    assert len(backward_calls) == steps * len(rows)
    for epoch, row in enumerate(rows):
        counted = sum(backward_calls[epoch * steps:(epoch + 1) * steps])
        assert (counted > 0) == adjoint
        assert row["nfe_backward"] == counted / steps


@pytest.mark.parametrize("weights", [{}, {"kinetic": 0.1, "jacobian": 0.1}])
def test_the_solve_penalty_joins_the_update_and_has_its_own_column(tmp_path, monkeypatch, weights):
    """The update minimises task loss + every block's penalty; ``train_loss`` stays the task's loss
    and ``penalty`` is the epoch's mean penalty per batch (0 with the regularisers off)."""
    task_losses, updates, penalties = [], [], []
    loss, update = SpheresTask.loss, Trainer._update

    def recording_loss(self, output, target):
        value = loss(self, output, target)
        if torch.is_grad_enabled():
            task_losses.append(value.item())
        return value

    def recording_update(self, total):
        updates.append(total.item())
        penalties.append(float(sum(block.penalty.detach() for block in self.counter.blocks)))
        update(self, total)

    monkeypatch.setattr(SpheresTask, "loss", recording_loss)
    monkeypatch.setattr(Trainer, "_update", recording_update)
    train_run(config(**weights), RunFolder(tmp_path / "run"), show_progress=False, log=None)
    rows = read_table(tmp_path / "run" / "metrics.csv")
    steps = rows[0]["steps"]
    assert updates == pytest.approx([a + b for a, b in zip(task_losses, penalties)], rel=1e-6)
    assert all((p > 0) == bool(weights) for p in penalties)
    for epoch, row in enumerate(rows):
        batches = slice(epoch * steps, (epoch + 1) * steps)
        # 64 points in batches of 16: the mean over batches is the mean over samples.
        assert row["train_loss"] == pytest.approx(sum(task_losses[batches]) / steps, rel=1e-6)
        assert row["penalty"] == pytest.approx(sum(penalties[batches]) / steps, rel=1e-6)


@pytest.mark.parametrize("begun_by_0_1_0", [False, True])
def test_a_resumed_run_keeps_the_record_of_its_fields_as_they_were_built(tmp_path, begun_by_0_1_0):
    run = RunFolder(tmp_path / "run")
    train_run(config(epochs=1), run, show_progress=False, log=None)
    description = json.loads(run.config.read_text())
    assert [field["class"] for field in description["fields"]] == ["GHBNODE"]
    if begun_by_0_1_0:  # 0.1.0 recorded no fields: today's defaults must not be written as its own
        del description["fields"]
        run.config.write_text(json.dumps(description))
    resume_run(run, {"epochs": 2}, show_progress=False, log=None)
    resumed = json.loads(run.config.read_text())
    assert ("fields" in resumed) is not begun_by_0_1_0 and resumed["settings"]["epochs"] == 2
