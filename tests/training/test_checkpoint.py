"""Atomic writes, checkpoints read back or refused, and random states restored exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from adamnode.training.checkpoint import load_checkpoint, save_checkpoint
from adamnode.errors import CheckpointError
from adamnode.store import atomic_write
from adamnode.training.rng import capture_rng, restore_rng

CONTENT = {"settings": {}, "model": {"w": torch.arange(3.0)}, "optimizer": {"state": {}, "param_groups": []},
           "scheduler": {}, "rng": capture_rng(),
           "batch_generator": torch.Generator().get_state(), "epoch": 1, "step_in_epoch": 0, "global_step": 4,
           "totals": {}, "history": [{"epoch": 1, "train_loss": 0.5}], "step_window": {}, "wall_seconds": 1.0}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def half_then_crash(stream):
        stream.write(b"new and incomplete")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, half_then_crash)
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["file.bin"]


def test_checkpoint_round_trip(tmp_path):
    save_checkpoint(tmp_path / "checkpoint.pt", CONTENT)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert torch.equal(state["model"]["w"], torch.arange(3.0)) and state["history"] == CONTENT["history"]


@pytest.mark.parametrize("keep", [0, 10, 200])
def test_truncated_checkpoint_is_refused_and_not_touched(tmp_path, keep):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, CONTENT)
    path.write_bytes(path.read_bytes()[:keep])
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)
    assert path.read_bytes() == before


def test_checkpoint_of_another_format_version_or_missing_keys_is_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, CONTENT)
    path.write_bytes(path.read_bytes().replace(b"adamnode-checkpoint 2 ", b"adamnode-checkpoint 99 ", 1))
    with pytest.raises(CheckpointError, match="format 99, this adamnode reads 2"):
        load_checkpoint(path)
    save_checkpoint(path, {"epoch": 2})
    with pytest.raises(CheckpointError, match="lacks settings"):
        load_checkpoint(path)


def test_an_unsealed_checkpoint_is_refused_as_not_adamnodes(tmp_path):
    # No release wrote one: a bare torch.save file is somebody else's, whatever it holds.
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": "adamnode-checkpoint", "version": 2, **CONTENT}, path)
    with pytest.raises(CheckpointError, match="not an adamnode checkpoint .*seal"):
        load_checkpoint(path)


def test_random_states_are_restored_exactly():
    state = capture_rng()
    first = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    restore_rng(state)
    again = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]
