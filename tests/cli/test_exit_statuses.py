"""The command line's answer to a failure is chosen by the error's class, from one table, never by
where it was raised; a library keyword in the message gets its flag appended."""

from __future__ import annotations

import pytest

from adamnode import errors
from adamnode.cli import INTERRUPTED, RUN_ERROR, USAGE_ERROR, _describe, exit_statuses


@pytest.mark.parametrize("error, status", [
    (errors.ConfigError("bad"), USAGE_ERROR),
    (errors.DamagedFile("x/manifest.json is damaged"), USAGE_ERROR),
    (errors.DataError("no file"), USAGE_ERROR),
    (errors.RunError("failed"), RUN_ERROR),
    (errors.CheckpointError("corrupt"), RUN_ERROR),
    (errors.Diverged("nan"), RUN_ERROR),
    (errors.FolderBusy("locked"), RUN_ERROR),
    (errors.Interrupted("stopped"), INTERRUPTED),
    (KeyboardInterrupt(), INTERRUPTED),
    (OSError("disk full"), RUN_ERROR),
])
def test_each_class_has_its_status(error, status):
    assert _describe(error)[1] == status


def test_a_solver_error_is_a_run_error_with_its_flags_appended():
    solver_error = errors.SolverError(errors.FailureKind.STEP_BUDGET, "too many steps", t=0.5, dt=1e-3, nfe=10,
                                      phase="forward", method="dopri5")
    message, status = _describe(solver_error)
    assert status == RUN_ERROR and "step_budget: --step-budget" in message


@pytest.mark.parametrize("error", [ValueError("from numpy"), TypeError("bug"), KeyError("x"), RuntimeError("torch")])
def test_an_error_of_no_class_in_the_table_is_unexpected_wherever_it_was_raised(error):
    message, status = _describe(error)
    assert status == RUN_ERROR and message.startswith(f"unexpected {type(error).__name__}")


def test_subclasses_come_before_their_bases():
    table = [kind for kind, _ in exit_statuses()]
    for index, kind in enumerate(table):
        assert not any(issubclass(kind, earlier) and kind is not earlier for earlier in table[:index]), kind


def test_every_adamnode_error_class_has_a_status():
    for name in errors.__all__:
        kind = getattr(errors, name)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            assert any(issubclass(kind, listed) for listed, _ in exit_statuses()), name


def test_the_solver_flags_are_derived_from_solver_options_and_the_old_adjoint_flag_names_its_successor(capsys):
    from adamnode.cli import main
    from adamnode.cli.options import solver_help
    from adamnode.config.settings import SOLVER_KEYS

    assert set(solver_help()) == set(SOLVER_KEYS) and all(solver_help().values())
    for old in ("--adjoint", "--no-adjoint"):
        with pytest.raises(SystemExit) as stop:
            main(["train", "--model", "node", old])
        line = capsys.readouterr().err.strip()
        assert stop.value.code == USAGE_ERROR and f"{old} is gone; use --gradient adjoint" in line
