"""A precision study's settings: checked when made, saved and read back whole, its command derived."""

from __future__ import annotations

import argparse

import pytest

from adamnode.cli.precision import add_arguments
from adamnode.errors import ConfigError
from adamnode.studies.precision.settings import StudySettings


def test_the_settings_round_trip_through_the_record():
    study = StudySettings(task="spheres", tols="1e-3,1e-2,1e-3", batches=3, reference_adjoint=True)
    assert StudySettings.from_record(study.record()) == study
    assert study.tolerances == [1e-3, 1e-2] and study.step_counts == [1, 2, 4, 8]


@pytest.mark.parametrize("arguments, words", [
    ({"batches": "2"}, "--batches must be an integer, got '2'"),
    ({"seed": True}, "--seed must be an integer, got True"),
    ({"source": 3}, "--from must be a string or unset, got 3"),
    ({"check_tol": 1e-6, "reference_tol": 1e-8}, "--check-tol (1e-06) must be tighter than --reference-tol"),
    ({"fixed_steps": "2,x"}, "--fixed-steps must be a comma-separated list"),
    ({"device": "tpu"}, "--device must be auto, cpu or cuda"),
])
def test_a_setting_of_the_wrong_type_or_range_is_refused_naming_its_flag(arguments, words):
    with pytest.raises(ConfigError) as error:
        StudySettings(**arguments)
    assert words in str(error.value)


def test_a_record_with_a_setting_no_study_has_is_refused():
    with pytest.raises(ConfigError, match="names tolerance, which are not study settings"):
        StudySettings.from_record({**StudySettings().record(), "tolerance": 1e-3})


def test_the_command_gives_every_setting_but_this_machines_and_reruns_as_the_same_study():
    study = StudySettings(task="mnist", models="node", source=None, data_dir="/data", reference_tol=1e-8,
                          check_tol=1e-9, reference_adjoint=True)
    command = study.command()
    assert command.startswith("adamnode precision --task mnist --models node --tols 1e-2,1e-3,1e-4,1e-5 ")
    assert "--reference-tol 1e-08 --check-tol 1e-09 --reference-adjoint" in command
    assert "--data-dir" not in command and "--device" not in command and "--from" not in command
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    given = vars(parser.parse_args(command.split()[2:]))
    settings = {key: value for key, value in given.items() if key not in ("out", "overwrite", "resume")}
    assert StudySettings(**settings, data_dir="/data") == study
