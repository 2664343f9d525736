"""``--log-every`` from the command line and config files: validated, recorded, plotted per step."""

from __future__ import annotations

import json

from cli_helpers import TINY, adamnode, one_line_error


def test_compare_logs_steps_from_the_config_file_and_plots_them(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text("log_every = 1\n")
    out = tmp_path / "cmp"
    result = adamnode("compare", *TINY, "--models", "node,hbnode", "--seeds", "2", "--config", str(config),
                      "--out", str(out))
    assert result.returncode == 0, result.stderr
    run = out / "hbnode-seed1"
    assert json.loads((run / "config.json").read_text())["settings"]["log_every"] == 1
    # tiny: two epochs of two steps, a row after each.
    assert len((run / "steps.csv").read_text().splitlines()) == 1 + 4
    assert (out / "train_loss_steps.png").stat().st_size > 0
    assert "train_loss_steps.png" in (out / "results.md").read_text()


def test_a_report_without_steps_draws_no_step_plot(two_epoch_run):
    result = adamnode("report", str(two_epoch_run))
    assert result.returncode == 0, result.stderr
    assert not (two_epoch_run / "train_loss_steps.png").exists()


def test_log_every_must_be_a_positive_integer(tmp_path):
    for value, expected in (("0", "--log-every must be positive, got 0"), ("x", "invalid int value: 'x'")):
        result = adamnode("train", "--model", "node", *TINY, "--log-every", value, "--out", str(tmp_path / value))
        assert result.returncode == 2 and expected in one_line_error(result)
