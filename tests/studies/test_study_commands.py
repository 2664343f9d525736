"""The studies' commands: how they refuse a bad ledger (``ledger.run_study`` decides for all) or a missing folder."""

import importlib

import pytest

LEDGER_STUDIES = ["claims", "rates", "rates_sequence"]


@pytest.mark.parametrize("study", LEDGER_STUDIES)
def test_a_ledger_that_could_not_be_written_is_refused_before_any_source_is_read(study, tmp_path):
    module = importlib.import_module(f"adamnode.studies.{study}")
    with pytest.raises(SystemExit) as stop:
        module.cli([str(tmp_path / "no-runs"), "--ledger", str(tmp_path / "no-folder" / "runs.csv")])
    assert stop.value.code == (f"{module.PROG}: cannot write the ledger {tmp_path / 'no-folder' / 'runs.csv'}: "
                               f"the folder {tmp_path / 'no-folder'} does not exist; create it or give another path")


@pytest.mark.parametrize("study", LEDGER_STUDIES)
def test_a_source_that_is_not_a_ledger_ends_the_command_in_one_line_naming_it(study, tmp_path):
    module = importlib.import_module(f"adamnode.studies.{study}")
    (tmp_path / "runs.csv").write_bytes(b"\xff\xfe not text")
    with pytest.raises(SystemExit) as stop:
        module.cli([str(tmp_path / "runs.csv")])
    assert stop.value.code.startswith(f"{module.PROG}: {tmp_path / 'runs.csv'} is not a ledger")
    assert "\n" not in stop.value.code


@pytest.mark.parametrize("study", [*LEDGER_STUDIES, "anchors", "regularisers"])
def test_a_folder_that_is_not_there_ends_the_command_in_one_line_naming_it(study, tmp_path):
    module = importlib.import_module(f"adamnode.studies.{study}")
    with pytest.raises(SystemExit) as stop:
        module.cli([str(tmp_path / "no-runs")])
    assert stop.value.code.startswith(f"{module.PROG}: {tmp_path / 'no-runs'}") and "\n" not in stop.value.code


@pytest.mark.parametrize("study, argv, words", [
    ("precision.ratios", ["{missing}"], "{missing} holds no precision study (precision.json)"),
    ("precision.merge", ["{out}", "{missing}"], "{missing} holds no precision study (precision.json)"),
    ("walker2d_baselines", ["{missing}"], "data directory {missing} does not exist"),
])
def test_the_other_studies_end_bad_input_in_one_line_too(study, argv, words, tmp_path):
    module = importlib.import_module(f"adamnode.studies.{study}")
    names = {"missing": tmp_path / "no-such", "out": tmp_path / "merged"}
    with pytest.raises(SystemExit) as stop:
        module.cli([word.format(**names) for word in argv])
    assert stop.value.code.startswith(f"{module.PROG}: {words.format(**names)}") and "\n" not in stop.value.code
    assert not (tmp_path / "merged").exists()


@pytest.mark.parametrize("argv, words", [(["--models", "node,bogus"], "unknown model(s) bogus; choose from node"),
                                         (["--tols", "1e-6,2"], "is not a comma-separated list of tolerances")])
def test_the_kinks_study_refuses_its_flags_before_any_training(argv, words, capsys):
    from adamnode.studies.precision import kinks

    with pytest.raises(SystemExit) as stop:
        kinks.cli(argv)
    assert stop.value.code == 2 and words in capsys.readouterr().err
