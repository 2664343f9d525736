"""Tables and plots from run folders written the way the trainer writes them."""

from __future__ import annotations

import csv
import io
import math

import pytest

from adamnode.cli import main
from adamnode.reports import find_runs, render, summarize
from adamnode.reports.table import to_csv, to_markdown
from adamnode.store import read_manifest, write_json, write_table
from adamnode.training.metrics import metric_columns

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_run(folder, model, seed, losses, seconds, status="complete", nfe=(20.0, 30.0), **settings):
    folder.mkdir(parents=True)
    write_json(folder / "config.json", {"settings": {"task": "spheres", "model": model, "seed": seed, "epochs": 2,
                                                     **settings},
                                        "metric": "accuracy", "parameters": 100 + len(model)})
    rows = [{"epoch": epoch, "steps": 4, "train_loss": loss, "train_accuracy": 0.5, "test_loss": loss,
             "test_accuracy": 0.75, "nfe_forward": nfe[0], "nfe_backward": nfe[1], "test_nfe_forward": nfe[0],
             "seconds": second, "test_seconds": 0.1, "lr": 0.01, "penalty": 0.0}
            for epoch, (loss, second) in enumerate(zip(losses, seconds), start=1)]
    write_table(folder / "metrics.csv", metric_columns("accuracy"), rows)
    write_json(folder / "summary.json", {"status": status, "error": None if status == "complete" else "loss was nan"})


@pytest.fixture
def comparison(tmp_path):
    write_run(tmp_path / "a-seed0", "a", 0, [2.0, 1.0], [1.0, 3.0])
    write_run(tmp_path / "a-seed1", "a", 1, [4.0, 3.0], [2.0, 2.0], nfe=(26.0, 34.0))
    write_run(tmp_path / "b-seed0", "b", 0, [0.5, 0.25], [1.0, 1.0])
    write_run(tmp_path / "b-seed1", "b", 1, [0.5], [1.0], status="diverged")
    return tmp_path


def test_rows_average_complete_runs_over_seeds(comparison):
    rows = {row.model: row for row in summarize(find_runs(comparison))}
    a, b = rows["a"], rows["b"]
    assert (a.runs, a.complete, a.parameters) == (2, 2, 101)
    assert a.mean("train_loss") == 2.0 and a.spread("train_loss") == pytest.approx(math.sqrt(2))
    assert a.mean("nfe_forward") == 23.0 and a.spread("nfe_forward") == pytest.approx(math.sqrt(18))
    assert a.mean("seconds_per_epoch") == 2.0  # (1 + 3) / 2 and (2 + 2) / 2, averaged
    assert (b.runs, b.complete, b.mean("train_loss"), b.spread("train_loss")) == (2, 1, 0.25, 0.0)
    assert b.status == "1/2 ok; seed 1 diverged: loss was nan"


def test_markdown_and_csv_hold_mean_and_spread(comparison):
    rows = summarize(find_runs(comparison))
    table = to_markdown(rows, "accuracy")
    line_a = next(line for line in table.splitlines() if line.startswith("| a "))
    assert "2.0000 ± 1.4142" in line_a and "23.0 ± 4.2" in line_a and "| 2 " in line_a
    line_b = next(line for line in table.splitlines() if line.startswith("| b "))
    assert "0.2500 " in line_b and "±" not in line_b.split("|")[4]
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows, "accuracy"))))
    assert [row["model"] for row in parsed] == ["a", "b"]
    assert float(parsed[0]["train_loss_std"]) == pytest.approx(math.sqrt(2))


def test_render_writes_tables_and_png_plots(comparison):
    table = render(comparison)
    assert "| a " in table
    for name in ("train_loss.png", "nfe_forward.png", "nfe_backward.png", "test_accuracy.png"):
        assert (comparison / name).read_bytes().startswith(PNG_SIGNATURE)
        assert f"]({name})" in (comparison / "results.md").read_text()
    assert (comparison / "results.csv").read_text().startswith("model,parameters,runs,complete")


def test_the_page_states_the_solver_settings_and_only_the_regularisers_that_are_on(tmp_path):
    write_run(tmp_path / "a-seed0", "a", 0, [1.0], [1.0], method="rk4", step_size=0.25, warm_start=False,
              step_budget=500, kinetic=0.0, jacobian=0.01, steer=0.0)
    render(tmp_path)
    settings = next(line for line in (tmp_path / "results.md").read_text().splitlines() if line.startswith("Settings:"))
    for shown in ("method=rk4", "step_size=0.25", "warm_start=False", "step_budget=500", "jacobian=0.01"):
        assert shown in settings
    assert "kinetic" not in settings and "steer" not in settings


def test_report_command_renders_a_single_run(tmp_path, capsys):
    write_run(tmp_path / "one", "a", 0, [1.0, 0.5], [1.0, 1.0])
    assert main(["report", str(tmp_path / "one")]) == 0
    assert "| a " in capsys.readouterr().out
    assert (tmp_path / "one" / "train_loss.png").read_bytes().startswith(PNG_SIGNATURE)


def test_report_on_a_folder_without_runs_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["report", str(tmp_path)])
    assert stop.value.code == 2 and "not a run or comparison folder" in capsys.readouterr().err


def test_report_refuses_to_replace_files_adamnode_did_not_write(tmp_path, capsys):
    write_run(tmp_path / "mine" / "a-seed0", "a", 0, [1.0], [1.0])
    (tmp_path / "mine" / "results.md").write_text("my notes")
    with pytest.raises(SystemExit) as stop:
        main(["report", str(tmp_path / "mine")])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and "results.md, which adamnode did not write" in error and error.count("\n") == 1
    assert (tmp_path / "mine" / "results.md").read_text() == "my notes"
    assert not (tmp_path / "mine" / "results.csv").exists()


def test_report_records_every_file_it_draws_so_it_can_draw_them_again(tmp_path):
    write_run(tmp_path / "a-seed0", "a", 0, [1.0], [1.0])
    (tmp_path / "a-seed0" / "steps.csv").write_text("epoch,step,loss,nfe_forward,nfe_backward,seconds\n"
                                                    "1,2,1.0,20.0,30.0,0.5\n1,4,0.5,20.0,30.0,1.0\n")
    render(tmp_path)
    drawn = {path.name for path in tmp_path.iterdir() if path.is_file() and not path.name.startswith(".")}
    assert "train_loss_steps.png" in drawn
    assert set(read_manifest(tmp_path)["files"]) == drawn
    render(tmp_path)  # its own files are its to replace


def test_a_metrics_file_without_the_columns_a_table_needs_is_damaged(tmp_path, capsys):
    write_run(tmp_path / "a-seed0", "a", 0, [1.0], [1.0])
    metrics = tmp_path / "a-seed0" / "metrics.csv"
    metrics.write_text(metrics.read_text().replace("train_loss", "trainloss", 1))
    with pytest.raises(SystemExit) as stop:
        main(["report", str(tmp_path)])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and "metrics.csv: no column train_loss" in error and error.count("\n") == 1
