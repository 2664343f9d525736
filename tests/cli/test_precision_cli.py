"""``adamnode precision`` end to end: files written, ``report`` redraws the same tables, bad input in one line."""

from __future__ import annotations

import csv
import json
import re

import pytest
from cli_helpers import adamnode, one_line_error

from adamnode.cli import main
from adamnode.studies.precision import study as precision_study

TINY_STUDY = ("--models", "hbnode", "--tols", "1e-2,1e-3", "--paths", "default,fixed,reference", "--fixed-steps", "2",
              "--batches", "1", "--batch-size", "8", "--pretrain-steps", "1")
FILES = ("precision.json", "precision.csv", "precision.md", "precision_grad_vs_nfe.png", "precision_grad_vs_time.png")


def test_the_study_writes_its_files_and_report_redraws_the_same_tables(tmp_path):
    out = tmp_path / "study"
    result = adamnode("precision", *TINY_STUDY, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert all((out / name).is_file() for name in FILES)
    rows = list(csv.DictReader((out / "precision.csv").open()))
    assert [(row["path"], row["tol"] or row["steps"]) for row in rows] == [
        ("default", "0.01"), ("default", "0.001"), ("fixed", "2"), ("reference", "0.01"), ("reference", "0.001")]
    assert all(row["status"] == "ok" and row["peak_memory_mb"] == "n/a" and float(row["grad_error"]) > 0
               for row in rows)
    table, page = (out / "precision.csv").read_text(), (out / "precision.md").read_text()
    assert "adamnode precision --task spheres --models hbnode" in page
    for name in FILES[1:]:
        (out / name).unlink()
    again = adamnode("report", str(out))
    assert again.returncode == 0, again.stderr
    assert (out / "precision.csv").read_text() == table and (out / "precision.md").read_text() == page
    assert all((out / name).is_file() for name in FILES)


def test_a_trained_run_can_be_measured_but_not_as_another_task(two_epoch_run, tmp_path, capsys):
    result = adamnode("precision", "--from", str(two_epoch_run), "--tols", "1e-3", "--paths", "direct",
                      "--batches", "1", "--batch-size", "8", "--reference-adjoint", "--out", str(tmp_path / "from"))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "from" / "precision.md").read_text()
    assert f"weights=from {two_epoch_run}" in page and "--reference-adjoint" in page
    assert re.search(r"\| 1e-10 +\| 1e-12 +\| adjoint +\|", page)
    failed = adamnode("precision", "--task", "mnist", "--from", str(two_epoch_run), "--out", str(tmp_path / "x"))
    assert failed.returncode == 2 and "holds a spheres run, not mnist" in one_line_error(failed)


@pytest.mark.parametrize("argv, words", [
    (("--paths", "default,fast"), "unknown path(s) fast; choose from default, warm, direct, adjoint, fixed, reference, plain-direct, torchdyn"),
    (("--models", "hbnode,bogus"), "unknown model(s) bogus"),
    (("--tols", "1e-3,0"), "--tols must be positive numbers"),
    (("--tols=-1e-3",), "--tols must be positive numbers"),
    (("--fixed-steps", "two"), "--fixed-steps must be a comma-separated list"),
    (("--batches", "0"), "--batches must be a positive number"),
    (("--check-tol", "1e-8"), "--check-tol (1e-08) must be tighter than --reference-tol (1e-10)"),
    (("--from", "nowhere"), "is not a run or compare folder"),
    (("--threads", "0"), "--threads must be a positive number"),
    (("--reference-tol", "inf"), "--reference-tol must be a positive number"),
    (("--seed", "-1"), "--seed must be an integer from 0 to"),
])
def test_bad_input_is_one_line(capsys, tmp_path, argv, words):
    with pytest.raises(SystemExit) as stop:
        main(["precision", *argv, "--out", str(tmp_path / "never")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and words in lines[0], lines
    assert not (tmp_path / "never").exists()


def test_a_damaged_comparison_given_to_from_is_one_line(tmp_path, capsys):
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "comparison.json").write_text('{"runs": "../elsewhere"}')
    with pytest.raises(SystemExit) as stop:
        main(["precision", "--from", str(tmp_path / "cmp"), "--out", str(tmp_path / "never")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and "is damaged or altered" in lines[0], lines


def test_a_folder_adamnode_did_not_write_is_refused_before_any_work_and_left_alone(tmp_path, capsys):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "precision.csv").write_text("the user's own table\n")
    with pytest.raises(SystemExit) as stop:
        main(["precision", *TINY_STUDY, "--out", str(theirs)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and "already exists" in lines[0] and "--resume" not in lines[0]
    with pytest.raises(SystemExit):
        main(["precision", *TINY_STUDY, "--out", str(theirs), "--overwrite"])
    assert "adamnode did not write it" in capsys.readouterr().err
    assert sorted(p.name for p in theirs.iterdir()) == ["precision.csv"]
    assert (theirs / "precision.csv").read_text() == "the user's own table\n"


def test_overwrite_replaces_only_the_studys_own_files(tmp_path):
    out = tmp_path / "study"
    assert adamnode("precision", *TINY_STUDY, "--out", str(out)).returncode == 0
    (out / "notes.txt").write_text("mine\n")
    again = adamnode("precision", *TINY_STUDY, "--out", str(out))
    assert again.returncode == 2 and "--overwrite" in one_line_error(again)
    assert adamnode("precision", *TINY_STUDY, "--out", str(out), "--overwrite").returncode == 0
    assert (out / "notes.txt").read_text() == "mine\n" and all((out / name).is_file() for name in FILES)


def test_a_stopped_study_keeps_its_finished_models_and_resume_measures_the_rest(tmp_path, monkeypatch, capsys):
    study = ("--models", "hbnode,node", "--tols", "1e-2", "--paths", "default,fixed", "--fixed-steps", "2",
             "--batches", "1", "--batch-size", "8", "--pretrain-steps", "2", "--reference-tol", "1e-7",
             "--check-tol", "1e-8")
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert main(["precision", *study, "--out", str(whole)]) == 0
    real, calls = precision_study.reference, []

    def interrupted_at_the_second_model(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(precision_study, "reference", interrupted_at_the_second_model)
    with pytest.raises(SystemExit) as stop:
        main(["precision", *study, "--out", str(stopped)])
    assert stop.value.code == 130
    partial = json.loads((stopped / "precision.json").read_text())
    assert [r["model"] for r in partial["references"]] == ["hbnode"] and not partial["settings"]["complete"]
    assert "Stopped part-way**: 1 of 2 models measured (hbnode)" in (stopped / "precision.md").read_text()
    monkeypatch.undo()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["precision", *study, "--out", str(stopped)])
    assert f"continue it with --resume {stopped}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["precision", "--resume", str(stopped), "--tols", "1e-3", "--from", "x"])
    assert "drop --tols, --from" in capsys.readouterr().err

    assert main(["precision", "--resume", str(stopped)]) == 0
    # The resumed study measured what one uninterrupted study measures (times aside).
    rows = [[{key: value for key, value in row.items() if key != "ms_per_step"}
             for row in csv.DictReader((folder / "precision.csv").open())] for folder in (whole, stopped)]
    assert rows[0] == rows[1] and {row["model"] for row in rows[1]} == {"hbnode", "node"}
    assert json.loads((stopped / "precision.json").read_text())["settings"]["complete"]
    with pytest.raises(SystemExit) as stop:
        main(["precision", "--resume", str(stopped)])
    assert stop.value.code == 2 and "is complete; redraw it with adamnode report" in capsys.readouterr().err
