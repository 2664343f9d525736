"""``adamnode train`` end to end: its files, exact resumption, kills, interrupts and faults."""

from __future__ import annotations

import json
import signal

from adamnode.training.checkpoint import load_checkpoint

from cli_helpers import TINY, adamnode, metrics_rows, start_adamnode, wait_for_an_epoch, without_timing


def test_train_writes_the_run_folder(two_epoch_run):
    config = json.loads((two_epoch_run / "config.json").read_text())
    summary = json.loads((two_epoch_run / "summary.json").read_text())
    assert config["settings"]["model"] == "hbnode" and config["settings"]["epochs"] == 2
    assert config["settings"]["n_train"] == 64, "the tiny preset must reach the settings"
    assert set(config["versions"]) == {"python", "torch", "torchdiffeq", "adamnode"}
    assert config["device"].startswith("cpu")
    # The field as built, defaults filled in: read back the same whatever later versions default to.
    [field] = config["fields"]
    assert field["class"] == "HBNODE" and set(field["options"]) == {"gamma", "learn_gamma"}
    assert field["options"]["learn_gamma"] is True
    assert summary["status"] == "complete" and summary["epochs_completed"] == 2
    table = metrics_rows(two_epoch_run)
    assert [row["epoch"] for row in table] == ["1", "2"]
    assert list(table[0]) == ["epoch", "steps", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
                              "nfe_forward", "nfe_backward", "test_nfe_forward", "seconds", "test_seconds", "lr", "penalty"]
    # dopri5 spends 1 evaluation to start, 6 per attempted step, and 1 on its first-step guess
    # where no warm start is (always in evaluation, which runs in eval mode).
    for row in table:
        assert int(row["steps"]) == 2  # 64 points in batches of 32
        assert float(row["nfe_forward"]) >= 7 and float(row["nfe_backward"]) >= 7
        assert float(row["test_nfe_forward"]) >= 8
        assert 0.0 <= float(row["train_accuracy"]) <= 1.0
    assert load_checkpoint(two_epoch_run / "checkpoint.pt")["epoch"] == 2


def test_resumed_run_matches_an_uninterrupted_one(two_epoch_run, tmp_path):
    out = tmp_path / "hb"
    assert adamnode("train", "--model", "hbnode", *TINY, "--epochs", "1", "--out", str(out)).returncode == 0
    assert len(metrics_rows(out)) == 1
    result = adamnode("train", "--resume", str(out), "--epochs", "2")
    assert result.returncode == 0, result.stderr
    assert without_timing(metrics_rows(out)) == without_timing(metrics_rows(two_epoch_run))


def start_long_run_past_its_first_epoch(out):
    """A 1000-epoch run in the background, returned once it has recorded an epoch."""
    process = start_adamnode("train", "--model", "node", *TINY, "--epochs", "1000", "--out", str(out))
    wait_for_an_epoch(process, out, timeout=60)
    return process


def test_run_killed_with_sigkill_resumes_from_its_last_checkpoint(tmp_path):
    out = tmp_path / "killed"
    process = start_long_run_past_its_first_epoch(out)
    process.kill()
    process.wait()
    done = load_checkpoint(out / "checkpoint.pt")["epoch"]
    before = without_timing(metrics_rows(out))[:done]
    result = adamnode("train", "--resume", str(out), "--epochs", str(done + 2))
    assert result.returncode == 0, result.stderr
    after = without_timing(metrics_rows(out))
    assert [int(row["epoch"]) for row in after] == list(range(1, done + 3))
    assert after[:done] == before


def test_ctrl_c_writes_a_checkpoint_and_says_how_to_resume(tmp_path):
    out = tmp_path / "stopped"
    process = start_long_run_past_its_first_epoch(out)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"adamnode train --resume {out}" in stderr and "Traceback" not in stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] >= 1
