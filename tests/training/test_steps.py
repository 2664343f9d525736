"""``steps.csv``: a row every ``log_every`` steps whose values agree with metrics.csv, exact across resumes."""

from __future__ import annotations

import os
import signal

import pytest

from adamnode.config.settings import resolve_config
from adamnode.errors import Interrupted
from adamnode.training.run import resumed_config, train_run
from adamnode.training.trainer import Trainer
from adamnode.store import STEP_COLUMNS, RunFolder, read_steps, read_table

# 64 points in batches of 16: four full steps per epoch.
SETTINGS = {"model": "hbnode", "preset": "tiny", "batch_size": 16}


def train(path, **changes):
    return train_run(resolve_config({**SETTINGS, **changes}), RunFolder(path), show_progress=False, log=None)


def test_a_row_every_n_steps_with_the_columns_asked_for(tmp_path):
    train(tmp_path / "run", epochs=3, log_every=5)
    with open(tmp_path / "run" / "steps.csv", encoding="utf-8") as stream:
        assert stream.readline().strip().split(",") == STEP_COLUMNS
    rows = read_steps(tmp_path / "run" / "steps.csv")
    # Twelve steps: rows after steps 5 and 10; the window of step 5 runs into epoch 2, that of 10 into 3.
    assert [(row["epoch"], row["step"]) for row in rows] == [(2, 5), (3, 10)]
    assert 0 < rows[0]["seconds"] < rows[1]["seconds"]


def test_the_rows_of_an_epoch_average_to_its_metrics_and_direct_backprop_counts_no_backward_calls(tmp_path):
    train(tmp_path / "run", epochs=2, log_every=2, gradient="direct")
    rows, epochs = read_steps(tmp_path / "run" / "steps.csv"), read_table(tmp_path / "run" / "metrics.csv")
    assert [row["step"] for row in rows] == [2, 4, 6, 8]
    for epoch in epochs:
        logged = [row for row in rows if row["epoch"] == epoch["epoch"]]
        assert len(logged) == 2
        for key, column in (("loss", "train_loss"), ("nfe_forward", "nfe_forward")):
            assert sum(row[key] for row in logged) / 2 == pytest.approx(epoch[column], rel=1e-12)
    assert all(row["nfe_backward"] == 0 for row in rows) and all(row["nfe_forward"] > 0 for row in rows)


def test_the_adjoint_counts_backward_calls(tmp_path):
    train(tmp_path / "run", epochs=1, log_every=4)
    (row,) = read_steps(tmp_path / "run" / "steps.csv")
    assert row["nfe_backward"] == pytest.approx(read_table(tmp_path / "run" / "metrics.csv")[0]["nfe_backward"])
    assert row["nfe_backward"] > 0


def test_a_run_killed_after_logging_resumes_without_duplicate_or_missing_rows(tmp_path, monkeypatch):
    train(tmp_path / "whole", epochs=2, log_every=2)

    update, calls = Trainer._update, []

    def update_then_ctrl_c(self, loss):
        update(self, loss)
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Trainer, "_update", update_then_ctrl_c)
    with pytest.raises(Interrupted):
        train(tmp_path / "split", epochs=2, log_every=2)
    monkeypatch.setattr(Trainer, "_update", update)
    steps = tmp_path / "split" / "steps.csv"
    # Checkpointed at step 3, inside the window of step 4. What a kill -9 after further training
    # would leave: rows past the checkpoint, the last one torn halfway through its append.
    with open(steps, "a", encoding="utf-8") as stream:
        stream.write("1,4,9.0,1.0,1.0,1.0\n2,6,9.0")
    resumed, state = resumed_config(RunFolder(tmp_path / "split"), {})
    train_run(resumed, RunFolder(tmp_path / "split"), resume_state=state, show_progress=False, log=None)

    def without_seconds(path):
        return [{key: value for key, value in row.items() if key != "seconds"} for row in read_steps(path)]

    assert without_seconds(steps) == without_seconds(tmp_path / "whole" / "steps.csv")
    assert [row["step"] for row in read_steps(steps)] == [2, 4, 6, 8]
    seconds = [row["seconds"] for row in read_steps(steps)]
    assert seconds == sorted(seconds), "the clock carries over the resume"


def test_without_log_every_there_is_no_steps_file(tmp_path):
    train(tmp_path / "run", epochs=1)
    assert not (tmp_path / "run" / "steps.csv").exists()
