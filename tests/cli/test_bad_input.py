"""Bad input and failing runs through ``adamnode.cli.main``: one line on stderr, exit status 2 or 1,
nothing lost."""

from __future__ import annotations

import json

import pytest
import torch

from adamnode.cli import main
from adamnode.training.checkpoint import load_checkpoint

from cli_helpers import TINY


def fails(capsys, *argv: str) -> tuple[int, str]:
    """Run the command, expect it to fail; return its status and its single error line."""
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("adamnode: error: "), lines
    return stop.value.code, lines[0]


def test_unknown_task_model_and_option_list_the_choices(capsys, tmp_path):
    status, line = fails(capsys, "train", "--task", "nope", "--model", "node", "--out", str(tmp_path / "a"))
    assert status == 2 and "choose from spheres, mnist, cifar10, silverbox" in line
    status, line = fails(capsys, "train", "--model", "nodee", "--out", str(tmp_path / "b"))
    assert status == 2 and "node, anode, sonode, hbnode, ghbnode, adamnode, nesterovnode, gnesterovnode" in line
    status, line = fails(capsys, "train", "--model", "node", "--learning-rate", "1")
    assert status == 2 and "--learning-rate" in line and "adamnode train --help" in line
    status, line = fails(capsys, "train", "--model", "node", "--device", "tpu")
    assert status == 2 and "'cuda'" in line
    status, line = fails(capsys, "train", "--model", "node", "--preset", "huge")
    assert status == 2 and "tiny, plane, long" in line
    status, line = fails(capsys, "compare", "--models", "node,bogus", "--out", str(tmp_path / "c"))
    assert status == 2 and "bogus" in line and "gnesterovnode" in line
    status, line = fails(capsys, "train", "--out", str(tmp_path / "d"))
    assert status == 2 and "--model" in line
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_invalid_values_name_the_option_and_the_fix(capsys):
    status, line = fails(capsys, "train", "--model", "node", "--epochs", "0")
    assert status == 2 and "--epochs must be positive" in line
    status, line = fails(capsys, "train", "--model", "node", "--method", "rk4")
    assert status == 2 and "--step-size" in line
    status, line = fails(capsys, "train", "--model", "node", "--lr-decay", "0.5")
    assert status == 2 and "--lr-decay-every" in line
    status, line = fails(capsys, "train", "--model", "node", "--checkpoint-minutes", "0")
    assert status == 2 and "--checkpoint-minutes must be positive" in line


def test_existing_output_folder_is_refused_unless_overwrite_on_an_adamnode_folder(capsys, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("keep me")
    status, line = fails(capsys, "train", "--model", "node", *TINY, "--out", str(taken))
    assert status == 2 and f"--resume {taken}" in line and "--overwrite" in line
    status, line = fails(capsys, "train", "--model", "node", *TINY, "--out", str(taken), "--overwrite")
    assert status == 2 and "did not write" in line
    assert (taken / "notes.txt").read_text() == "keep me"


def test_corrupt_or_foreign_checkpoint_is_refused_and_left_untouched(capsys, tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04 this is not a whole zip file")
    damaged = (tmp_path / "checkpoint.pt").read_bytes()
    status, line = fails(capsys, "train", "--resume", str(tmp_path), "--epochs", "3")
    assert status == 1 and "corrupt" in line and "--overwrite" in line
    assert (tmp_path / "checkpoint.pt").read_bytes() == damaged
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint.pt"]
    torch.save({"weights": torch.zeros(3)}, tmp_path / "checkpoint.pt")
    status, line = fails(capsys, "train", "--resume", str(tmp_path))
    assert status == 1 and "not an adamnode checkpoint" in line
    status, line = fails(capsys, "train", "--resume", str(tmp_path / "missing"))
    assert status == 1 and "no checkpoint" in line


def test_resume_refuses_changes_that_would_break_exactness(capsys, two_epoch_run):
    status, line = fails(capsys, "train", "--resume", str(two_epoch_run), "--lr", "0.5")
    assert status == 2 and "--lr cannot change" in line
    status, line = fails(capsys, "train", "--resume", str(two_epoch_run), "--epochs", "1")
    assert status == 2 and "already has 2 epochs" in line


def test_solver_failure_is_reported_with_its_run_context(capsys, tmp_path):
    out = tmp_path / "failing"
    status, line = fails(capsys, "train", "--model", "adamnode", *TINY, "--step-budget", "1", "--out", str(out))
    assert status == 1
    assert "adamnode on spheres (seed 0), epoch 1, step 1" in line and "step_budget=1" in line
    assert f"{out / 'checkpoint.pt'}" in line
    assert json.loads((out / "summary.json").read_text())["status"] == "solver_failed"
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 0


def test_a_value_error_from_torch_is_not_blamed_on_the_users_input(monkeypatch):
    from adamnode.cli import RUN_ERROR, USAGE_ERROR, _describe
    from adamnode.errors import ConfigError

    with pytest.raises(ValueError) as from_torch:
        torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    message, status = _describe(from_torch.value)
    assert status == RUN_ERROR and message.startswith("unexpected ValueError")
    monkeypatch.setenv("ADAMNODE_DEBUG", "1")  # main raises instead of printing
    with pytest.raises(ConfigError) as ours:
        main(["train", "--model", "node", "--epochs", "0"])
    assert _describe(ours.value) == (str(ours.value), USAGE_ERROR)


def test_no_download_fails_at_once_without_trying_the_network(capsys, tmp_path):
    status, line = fails(capsys, "train", "--task", "mnist", "--model", "node", "--data-dir", str(tmp_path),
                         "--no-download", "--out", str(tmp_path / "run"))
    assert status == 2 and "not found" in line and "not downloadable" not in line


@pytest.mark.parametrize("argv", [
    ("train", "--model", "node", "--out", ""), ("train", "--resume", ""), ("train", "--model", "node", "--config", ""),
    ("compare", "--task", " "), ("report", ""), ("info", "--preset", ""), ("precision", "--out", ""),
    ("stability", "--out", ""), ("train", "--model-option", ""),
])
def test_an_empty_value_is_refused_not_taken_for_the_default(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)  # an empty path would otherwise mean this folder
    status, line = fails(capsys, *argv)
    assert status == 2 and "must not be empty" in line
    assert not any(tmp_path.iterdir())


def test_an_empty_string_in_a_config_file_is_refused(capsys, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('model = "node"\nout = ""\n')
    status, line = fails(capsys, "train", "--config", str(config))
    assert status == 2 and "--out must be a non-empty string" in line


def test_options_must_be_spelled_out(capsys):
    status, line = fails(capsys, "train", "--model", "node", "--epoch", "1")
    assert status == 2 and "unrecognized arguments: --epoch" in line
    status, line = fails(capsys, "precision", "--tol", "1e-3")
    assert status == 2 and "--tol" in line


def test_seeds_beyond_32_bits_are_refused_before_any_training(capsys, tmp_path):
    status, line = fails(capsys, "train", "--model", "node", *TINY, "--seed", str(2**32), "--out", str(tmp_path / "a"))
    assert status == 2 and "--seed must be an integer from 0 to 4294967295" in line
    status, line = fails(capsys, "compare", "--models", "node", *TINY, "--seed", str(2**32 - 1), "--seeds", "2",
                         "--out", str(tmp_path / "b"))
    assert status == 2 and "runs past the largest seed" in line
    assert not any(tmp_path.iterdir())


def test_an_output_folder_inside_a_file_is_refused(capsys, tmp_path):
    (tmp_path / "afile").write_text("x")
    status, line = fails(capsys, "train", "--model", "node", *TINY, "--out", str(tmp_path / "afile" / "run"))
    assert status == 2 and "which is a file" in line
