"""``--model-option`` through the commands: train and resume, compare, info."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from adamnode.cli import main
from adamnode.models.scalars import logit
from adamnode.training.checkpoint import load_checkpoint

from cli_helpers import TINY


def settings_of(run) -> dict:
    return json.loads((run / "config.json").read_text())["settings"]


def test_a_resumed_run_keeps_its_options_and_refuses_other_ones(tmp_path, capsys):
    out = tmp_path / "adam"
    assert main(["train", "--model", "adamnode", *TINY, "--epochs", "1", "--out", str(out),
                 "--model-option", "beta1=0.3", "--model-option", "learn_betas=false"]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "2"]) == 0
    assert settings_of(out)["model_options"] == {"beta1": 0.3, "learn_betas": False}
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["epoch"] == 2 and math.isclose(state["model"]["block.field.beta1_logit"].item(), logit(0.3, "b"),
                                                rel_tol=1e-6)
    with pytest.raises(SystemExit):
        main(["train", "--resume", str(out), "--epochs", "3", "--model-option", "beta1=0.4"])
    assert "--model-option cannot change when resuming" in capsys.readouterr().err


def test_compare_gives_each_model_the_options_it_takes_and_tabulates_them(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", *TINY, "--models", "node,hbnode,adamnode", "--epochs", "1", "--out", str(out),
                 "--model-option", "gamma=0.2", "--model-option", "learn_betas=false"]) == 0
    assert [settings_of(out / f"{model}-seed0")["model_options"] for model in ("node", "hbnode", "adamnode")] == [
        {}, {"gamma": 0.2}, {"learn_betas": False}]
    table = {line.split("|")[1].strip(): line.split("|")[2].strip()
             for line in (out / "results.md").read_text().splitlines() if line.startswith("| ")}
    assert table == {"model": "model options", "node": "—", "hbnode": "gamma=0.2", "adamnode": "learn_betas=false"}
    with open(out / "results.csv", newline="") as stream:
        assert [row["model_options"] for row in csv.DictReader(stream)] == ["", "gamma=0.2", "learn_betas=false"]
    adam = load_checkpoint(out / "adamnode-seed0" / "checkpoint.pt")["model"]
    assert torch.equal(adam["block.field.beta2_logit"], torch.tensor(logit(0.9933071490757153, "b")))
    # A finished comparison resumes without training again, its options kept.
    written = (out / "hbnode-seed0" / "metrics.csv").stat().st_mtime_ns
    assert main(["compare", "--resume", str(out)]) == 0
    assert (out / "hbnode-seed0" / "metrics.csv").stat().st_mtime_ns == written
    capsys.readouterr()


def test_an_option_no_compared_model_takes_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["compare", *TINY, "--models", "node,hbnode", "--out", str(tmp_path / "c"), "--model-option", "beta1=0.5"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1
    assert "unknown model option(s) beta1; valid keys for node, hbnode: gamma, learn_gamma" in lines[0]
    assert not (tmp_path / "c").exists()


def test_info_builds_the_models_with_the_options(capsys):
    assert main(["info", "--task", "spheres", "--model-option", "learn_betas=false"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "1,191" in rows["adamnode"] and rows["adamnode"].endswith("learn_betas=false")
    assert "1,192" in rows["hbnode"] and rows["hbnode"].rstrip().endswith("]")
