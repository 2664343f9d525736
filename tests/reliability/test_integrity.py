"""Integrity: checkpoints are sealed with a digest and range-checked; names read back from files
never lead outside their folder."""

from __future__ import annotations

import json

import pytest
import torch

from adamnode.training.checkpoint import load_checkpoint, save_checkpoint
from adamnode.errors import CheckpointError

from cli_helpers import TINY, adamnode, one_line_error


def test_a_flipped_byte_in_a_stored_weight_is_refused_and_the_file_left_alone(tmp_path):
    out = tmp_path / "run"
    assert adamnode("train", "--model", "node", *TINY, "--epochs", "1", "--out", str(out)).returncode == 0
    path = out / "checkpoint.pt"
    weights = load_checkpoint(path)["model"]
    name, tensor = next((key, value) for key, value in weights.items() if value.is_floating_point() and value.numel() > 4)
    data = bytearray(path.read_bytes())
    offset = data.find(tensor.contiguous().numpy().tobytes())
    assert offset > 0, "the weight's bytes must be stored as they are"
    data[offset + 3] ^= 0x40  # the exponent of the first value: about 1e38 times larger
    path.write_bytes(bytes(data))
    result = adamnode("train", "--resume", str(out), "--epochs", "2")
    line = one_line_error(result)
    assert result.returncode == 1 and str(path) in line and "corrupt" in line
    assert path.read_bytes() == bytes(data)


@pytest.mark.parametrize("field, value", [("epoch", -1), ("step_in_epoch", -2), ("epoch", 1.5), ("epoch", 3)])
def test_loaded_fields_are_range_checked(tmp_path, field, value):
    content = {"settings": {"epochs": 2}, "model": {"w": torch.ones(2)}, "optimizer": {}, "scheduler": {}, "rng": {},
               "batch_generator": torch.Generator().get_state(), "epoch": 1, "step_in_epoch": 0, "global_step": 0,
               "totals": {}, "history": [{"epoch": 1}], "step_window": {}, "wall_seconds": 0.0}
    content[field] = value
    save_checkpoint(tmp_path / "checkpoint.pt", content)
    with pytest.raises(CheckpointError, match="impossible value"):
        load_checkpoint(tmp_path / "checkpoint.pt")


def test_a_comparison_json_naming_a_folder_outside_is_refused(tmp_path):
    out = tmp_path / "cmp"
    assert adamnode("compare", "--models", "node", *TINY, "--epochs", "1", "--out", str(out)).returncode == 0
    victim = tmp_path / "victim-seed0"
    victim.mkdir()
    (victim / "checkpoint.pt").write_bytes(b"the user's file that happens to have this name")
    (victim / "thesis.tex").write_text("years of work")
    saved = json.loads((out / "comparison.json").read_text())
    saved.update(models=["../victim"], runs=["../victim-seed0"])
    (out / "comparison.json").write_text(json.dumps(saved))
    for args in (("compare", "--resume", str(out), "--epochs", "2"), ("report", str(out))):
        result = adamnode(*args)
        line = one_line_error(result)
        assert result.returncode == 2 and "comparison.json" in line and "../victim" in line, args
    assert sorted(path.name for path in victim.iterdir()) == ["checkpoint.pt", "thesis.tex"]


def test_a_manifest_naming_files_outside_is_refused(tmp_path):
    run = tmp_path / "run"
    assert adamnode("train", "--model", "node", *TINY, "--epochs", "1", "--out", str(run)).returncode == 0
    (tmp_path / "precious.txt").write_text("mine")
    manifest = json.loads((run / ".adamnode-files.json").read_text())
    manifest["files"].append("../precious.txt")
    (run / ".adamnode-files.json").write_text(json.dumps(manifest))
    result = adamnode("train", "--model", "node", *TINY, "--out", str(run), "--overwrite")
    assert result.returncode == 2 and "../precious.txt" in one_line_error(result)
    assert (tmp_path / "precious.txt").read_text() == "mine" and (run / "checkpoint.pt").exists()
