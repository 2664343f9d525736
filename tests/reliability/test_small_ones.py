"""Small faults with one-line answers: subsets larger than the data, wrong TOML types and duplicate
keys, a config.json without settings, a damaged summary under compare --resume."""

from __future__ import annotations

import json

from cli_helpers import TINY, adamnode, one_line_error


def test_a_spheres_subset_larger_than_the_data_is_an_error(tmp_path):
    for option in ("--train-subset", "--test-subset"):
        result = adamnode("train", "--model", "node", *TINY, option, "1000", "--out", str(tmp_path / "run"))
        line = one_line_error(result)
        assert result.returncode == 2 and option[2:].replace("-", "_") in line and "64" in line
    assert not (tmp_path / "run").exists()


def test_wrong_toml_types_and_duplicate_keys_are_one_line_errors(tmp_path):
    cases = {"preset = ['tiny']\n": "must be a non-empty string", "epochs = 'ten'\n": "must be an integer",
             "batch-size = 16\nbatch_size = 32\n": "batch_size twice"}
    for number, (text, expected) in enumerate(cases.items()):
        config = tmp_path / f"c{number}.toml"
        config.write_text(text)
        result = adamnode("train", "--model", "node", "--config", str(config), "--out", str(tmp_path / "run"))
        line = one_line_error(result)
        assert result.returncode == 2 and str(config) in line and expected in line, line


def test_report_names_a_config_json_without_settings(tmp_path):
    run = tmp_path / "run"
    assert adamnode("train", "--model", "node", *TINY, "--epochs", "1", "--out", str(run)).returncode == 0
    description = json.loads((run / "config.json").read_text())
    del description["settings"]
    (run / "config.json").write_text(json.dumps(description))
    result = adamnode("report", str(run))
    line = one_line_error(result)
    assert result.returncode == 2 and str(run / "config.json") in line and "settings" in line


def test_compare_resume_names_a_damaged_summary(tmp_path):
    out = tmp_path / "cmp"
    assert adamnode("compare", "--models", "node", *TINY, "--epochs", "1", "--out", str(out)).returncode == 0
    (out / "node-seed0" / "summary.json").write_text('{"status": "compl')
    result = adamnode("compare", "--resume", str(out), "--epochs", "2")
    line = one_line_error(result)
    assert result.returncode == 2 and str(out / "node-seed0" / "summary.json") in line
