"""The studies behind docs/results are package code: no analysis script lives under docs/, every
study command a README gives runs against the committed ledgers, and each study has a smoke test
on a tiny input of its own."""

from __future__ import annotations

import importlib
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adamnode.store import write_json, write_table
from adamnode.studies import STUDIES, anchors, claims, regularisers
from adamnode.studies.precision import merge as precision_merge, ratios as precision_ratios
from adamnode.training.metrics import metric_columns

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
COMMAND = re.compile(r"python -m adamnode\.studies\.([\w.]+)((?:\\\n|[^\n`#])*)")


def readme_commands() -> list[tuple[str, str, list[str]]]:
    """(README, study, arguments) of every ``python -m adamnode.studies.NAME ...`` in docs' Markdown."""
    found = []
    for page in sorted(DOCS.rglob("*.md")) + [ROOT / "README.md"]:
        for match in COMMAND.finditer(page.read_text()):
            words = shlex.split(match.group(2).replace("\\\n", " ").split(">")[0])
            found.append((str(page.relative_to(ROOT)), match.group(1), words))
    return found


def runnable(words: list[str]) -> bool:
    """Whether the command reads committed files only (ledgers, study folders): no runs/ folder."""
    paths = [word for word in words if "/" in word and not word.startswith("-")]
    return bool(paths) and all((ROOT / path).exists() for path in paths)


COMMANDS = readme_commands()
RUNNABLE = [command for command in COMMANDS if runnable(command[2])]


def test_no_analysis_script_lives_under_docs():
    assert not [str(path.relative_to(ROOT)) for path in DOCS.rglob("*.py")]


def test_every_readme_command_names_a_study_of_the_package():
    assert COMMANDS and {study for _, study, _ in COMMANDS} <= set(STUDIES)


def test_the_committed_ledgers_are_read_by_a_readme_command_of_each_ledger_study():
    assert {study for _, study, _ in RUNNABLE} >= {"claims", "rates", "rates_sequence", "precision.ratios"}


@pytest.mark.parametrize("page, study, words", RUNNABLE, ids=[f"{page}:{study}" for page, study, _ in RUNNABLE])
def test_a_readme_command_runs_against_the_committed_ledgers(tmp_path, page, study, words):
    """Run in a copy of docs/, so that a command writing a ledger (``--ledger``) leaves the committed one as it is."""
    shutil.copytree(DOCS, tmp_path / "docs")
    result = subprocess.run([sys.executable, "-m", f"adamnode.studies.{study}", *words], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize("study", STUDIES)
def test_each_study_answers_help(study, capsys):
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(f"adamnode.studies.{study}").cli(["--help"])
    assert stop.value.code == 0 and f"adamnode.studies.{study}" in capsys.readouterr().out


def write_run(folder: Path, model: str, seed: int, *, steps: int = 0, **settings) -> None:
    """A complete run folder as the trainer writes it: two epochs, and ``steps`` logged every 10 steps."""
    folder.mkdir(parents=True)
    write_json(folder / "config.json", {"settings": {"task": "spheres", "model": model, "seed": seed, "epochs": 2,
                                                     **settings}, "metric": "accuracy", "parameters": 100})
    rows = [{"epoch": epoch, "steps": 4, "train_loss": 1.0 / epoch + seed / 100, "train_accuracy": 0.5,
             "test_loss": 1.0, "test_accuracy": 0.75, "nfe_forward": 20.0 + seed, "nfe_backward": 30.0,
             "test_nfe_forward": 20.0, "seconds": 1.0, "test_seconds": 0.1, "lr": 0.01, "penalty": 0.0}
            for epoch in (1, 2)]
    write_table(folder / "metrics.csv", metric_columns("accuracy"), rows)
    if steps:
        write_table(folder / "steps.csv", ["epoch", "step", "loss", "nfe_forward", "nfe_backward", "seconds"],
                      [{"epoch": 1, "step": step, "loss": 0.5, "nfe_forward": 23.0, "nfe_backward": 24.0,
                        "seconds": 1.0} for step in range(10, steps + 1, 10)])
    write_json(folder / "summary.json", {"status": "complete", "error": None})


def test_claims_on_a_tiny_comparison_writes_a_ledger_it_reads_back(tmp_path, capsys):
    for model in ("adamnode", "node"):
        for seed in range(3):
            write_run(tmp_path / "runs" / f"{model}-seed{seed}", model, seed)
    claims.cli([str(tmp_path / "runs"), "--ledger", str(tmp_path / "runs.csv")])
    first = capsys.readouterr().out
    claims.cli([str(tmp_path / "runs.csv")])
    assert capsys.readouterr().out == first and "C1 (training loss)" in first and "| adamnode | 0, 1, 2 |" in first


def test_anchors_sets_a_run_beside_the_reference(tmp_path, capsys):
    paper = {"task": "mnist", "batch_size": 32, "method": "dopri5", "tol": 1e-4, "adjoint": True, "log_every": 10}
    write_run(tmp_path / "s7", "adamnode", 7, steps=400, **paper)
    anchors.cli([str(tmp_path / "s7")])
    assert "| adamnode | 7 | 23.0 | 23.1 | 24.0 | 23.9 | 0.500 | 0.426 |" in capsys.readouterr().out


def test_regularisers_on_tiny_comparisons(tmp_path, capsys):
    for variant in regularisers.VARIANTS:
        for model in regularisers.MODELS:
            write_run(tmp_path / variant / f"{model}-seed0", model, 0)
    regularisers.cli([str(tmp_path), "--plots", str(tmp_path)])
    table = capsys.readouterr().out
    assert table.count("\n") == 2 + len(regularisers.VARIANTS) * len(regularisers.MODELS)
    assert (tmp_path / "nfe.png").read_bytes().startswith(b"\x89PNG")


def test_precision_merge_and_ratios_on_a_committed_study(tmp_path, capsys):
    study = DOCS / "results" / "precision" / "spheres"
    precision_merge.cli([str(tmp_path / "merged"), str(study), str(study)])
    capsys.readouterr()
    precision_ratios.cli([str(tmp_path / "merged")])
    merged = capsys.readouterr().out
    precision_ratios.cli([str(study)])
    assert merged == capsys.readouterr().out and "default / reference" in merged


def test_precision_kinks_on_two_steps(capsys):
    from adamnode.studies.precision import kinks as precision_kinks

    precision_kinks.cli(["--models", "node", "--tols", "1e-3", "--steps", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == precision_kinks.HEADER and [line.split()[:2] for line in lines[1:]] == [["node", "tanh"],
                                                                                                ["node", "relu"]]


def test_walker2d_baselines_on_the_shared_data(shared_datasets, capsys):
    if not (shared_datasets / "walker2d").is_dir():
        pytest.skip("no walker2d data in the shared datasets")
    from adamnode.studies import walker2d_baselines

    walker2d_baselines.cli([str(shared_datasets)])
    assert "persistence MSE" in capsys.readouterr().out


def test_the_sequence_rates_are_measured_against_the_papers_pair_whatever_adamnodes_default(capsys):
    from adamnode.studies import rates_sequence

    rates_sequence.cli([str(DOCS / "results" / "rates" / "f16-runs.csv")])
    differences = [line for line in capsys.readouterr().out.splitlines() if "minus the default" in line]
    # Against AdamNODE's later default, (sigmoid(3), sigmoid(5), learned), that setting would be the base.
    assert any(line.startswith("beta1 0.9526, beta2 0.9933 ") for line in differences), differences


def test_a_runs_rates_are_read_from_the_field_it_recorded_not_from_todays_defaults():
    from adamnode.models.scalars import sigmoid
    from adamnode.reports.records import RunRecord
    from adamnode.studies.rates import setting

    def record(settings: dict, fields: tuple = ()) -> RunRecord:
        return RunRecord(Path("run"), {"model": "adamnode", **settings}, "accuracy", 1, [], None, fields=fields)

    built = ({"class": "AdamNODE", "options": {"beta1": 0.25, "beta2": 0.5, "learn_betas": False}},)
    assert setting(record({}, built)) == (0.25, 0.5, False)
    # Folders of 0.1.0 record only the options given: the rest are 0.1.0's defaults, whatever today's are.
    assert setting(record({})) == (sigmoid(-5.0), sigmoid(5.0), True)
    assert setting(record({"model_options": {"beta1": 0.3}})) == (0.3, sigmoid(5.0), True)


def test_the_sequence_rates_read_adamnode_runs_from_a_comparison_folder(tmp_path, capsys):
    from adamnode.studies import rates_sequence

    comparison = tmp_path / "f16"
    runs = [f"adamnode-seed{seed}" for seed in (0, 1)]
    comparison.mkdir()
    write_json(comparison / "comparison.json", {"task": "planevibration", "models": ["adamnode"], "seeds": [0, 1],
                                                "settings": {}, "runs": runs})
    fields = [{"class": "AdamNODE", "options": {"beta1": 0.25, "beta2": 0.5, "learn_betas": True}}]
    for seed, name in enumerate(runs):
        (comparison / name).mkdir()
        write_json(comparison / name / "config.json", {
            "settings": {"task": "planevibration", "model": "adamnode", "seed": seed}, "metric": "mse",
            "parameters": 100, "extra_metrics": ["forecast_mse"], "fields": fields})
        row = {"epoch": 1, "steps": 4, "train_loss": 0.1 + seed, "train_mse": 0.1, "test_loss": 0.2, "test_mse": 0.2,
               "test_forecast_mse": 0.3, "nfe_forward": 20.0, "nfe_backward": 30.0, "test_nfe_forward": 20.0,
               "seconds": 1.0, "test_seconds": 0.1, "lr": 0.01, "penalty": 0.0}
        write_table(comparison / name / "metrics.csv", metric_columns("mse", ("forecast_mse",)), [row])
        write_json(comparison / name / "summary.json", {"status": "complete", "error": None})
    rates_sequence.main([comparison], None)
    assert "| 0.2500 | 0.5000 | yes | 0, 1 |" in capsys.readouterr().out
