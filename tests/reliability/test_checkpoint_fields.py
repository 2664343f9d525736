"""Every field of a loaded checkpoint is checked for its type and range, and a seal that disagrees
with the content it seals is called what it is: an altered file."""

from __future__ import annotations

import copy
import hashlib
import io

import pytest
import torch

from adamnode.cli import main
from adamnode.training.checkpoint import load_checkpoint, save_checkpoint
from adamnode.errors import CheckpointError
from adamnode.training.rng import capture_rng

VALID = {"settings": {"epochs": 2}, "model": {"w": torch.ones(2)}, "optimizer": {"state": {}, "param_groups": []},
         "scheduler": {"last_epoch": 3}, "rng": capture_rng(), "batch_generator": torch.Generator().get_state(),
         "epoch": 1, "step_in_epoch": 0, "global_step": 3,
         "totals": {"samples": 0, "steps": 0, "loss_sum": 0.0, "nfe_forward": 0, "extra_sums": []},
         "history": [{"epoch": 1, "steps": 3, "train_loss": 0.5, "test_accuracy": float("nan")}],
         "step_window": {"samples": 4, "loss_sum": 1.5}, "wall_seconds": 2.5}


def test_a_complete_checkpoint_loads(tmp_path):
    save_checkpoint(tmp_path / "checkpoint.pt", VALID)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["totals"] == VALID["totals"]


def changed(path: list, value) -> dict:
    content = copy.deepcopy(VALID)
    holder = content
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return content


@pytest.mark.parametrize("path, value, named", [
    (["totals", "samples"], "x", "totals samples = 'x', expected a non-negative integer"),
    (["totals", "loss_sum"], "0.5", "totals loss_sum = '0.5', expected a finite number"),
    (["totals", "extra_sums"], [1.0, "x"], "totals extra_sums"),
    (["totals", "bogus"], 1, "totals holds 'bogus'"),
    (["step_window", "steps"], -1, "step_window steps = -1"),
    (["wall_seconds"], -1.0, "wall_seconds = -1.0"),
    (["history", 0, "train_loss"], "0.5", "history epoch 1 train_loss = '0.5', expected a number"),
    (["model", "w"], [1.0, 1.0], "model weight 'w' is not a named tensor"),
    (["optimizer"], [], "the optimizer state"),
    (["scheduler"], None, "the scheduler state"),
    (["batch_generator"], [1, 2], "generator state"),
    (["rng", "torch"], "abc", "random states"),
    (["rng", "numpy", "keys"], [1, 2], "numpy's random state"),
    (["rng", "python", "internal"], ["a"], "Python's random state"),
])
def test_a_field_of_the_wrong_type_is_named(tmp_path, path, value, named):
    save_checkpoint(tmp_path / "checkpoint.pt", changed(path, value))  # sealed: the digest alone passes it
    with pytest.raises(CheckpointError, match="impossible value") as error:
        load_checkpoint(tmp_path / "checkpoint.pt")
    assert named in str(error.value)


def sealed(body_version: int, seal: bool) -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": "adamnode-checkpoint", "version": body_version, **VALID}, buffer)
    body = buffer.getvalue()
    header = b"adamnode-checkpoint 2 sha256 " + hashlib.sha256(body).hexdigest().encode() + b"\n"
    return (header if seal else b"") + body


def test_a_seal_that_disagrees_with_its_content_is_called_an_alteration(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(sealed(1, seal=True))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert "altered: its seal says format 2 but its content says format 1" in str(error.value)


def test_a_valid_content_without_its_seal_is_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(sealed(2, seal=False))
    with pytest.raises(CheckpointError, match="not an adamnode checkpoint"):
        load_checkpoint(path)


def text_count(state: dict) -> None:
    state["totals"]["samples"] = "x"


def no_test_loss(state: dict) -> None:
    del state["history"][0]["test_loss"]


@pytest.mark.parametrize("damage, named", [(text_count, "totals samples = 'x'"),  # was "unexpected TypeError"
                                           (no_test_loss, "holds no test_loss for epoch 1")])  # "unexpected KeyError"
def test_resuming_a_resealed_damaged_checkpoint_is_one_line_naming_the_field(tmp_path, capsys, damage, named):
    run = tmp_path / "run"
    assert main(["train", "--model", "node", "--preset", "tiny", "--epochs", "1", "--threads", "1",
                 "--out", str(run)]) == 0
    state = load_checkpoint(run / "checkpoint.pt")
    damage(state)
    save_checkpoint(run / "checkpoint.pt", state)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--resume", str(run), "--epochs", "2", "--threads", "1"])
    error = capsys.readouterr().err
    assert exit_.value.code == 1 and "unexpected" not in error
    assert error.count("\n") == 1 and named in error
