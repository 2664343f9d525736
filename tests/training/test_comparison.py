"""How a comparison hands its runs to processes side by side and reports their ends (no training here: the
processes are replaced)."""

from __future__ import annotations

import pytest

from adamnode.training import comparison
from adamnode.config.settings import TrainConfig
from adamnode.errors import ConfigError, Interrupted
from adamnode.training.processes import NotStarted


def started_threads(monkeypatch, tmp_path, threads: list, jobs: int, cores: int) -> list:
    """The thread count each run would start with, for runs asking ``threads`` (None: not set)."""
    started = []

    def in_processes(function, calls, workers):
        started.extend(calls)
        yield from ()

    monkeypatch.setattr(comparison, "available_cores", lambda: cores)
    monkeypatch.setattr(comparison, "in_processes", in_processes)
    configs = [TrainConfig(task="mnist", model="node", seed=seed, threads=count, out=str(tmp_path / f"run{seed}"))
               for seed, count in enumerate(threads)]
    list(comparison._outcomes(configs, resume=False, jobs=jobs))
    return [config.threads for config, *_ in started]


def test_the_cores_are_shared_among_the_runs_that_train_not_among_the_jobs(monkeypatch, tmp_path):
    assert started_threads(monkeypatch, tmp_path, [None, None], jobs=4, cores=8) == [4, 4]
    assert started_threads(monkeypatch, tmp_path, [None] * 6, jobs=4, cores=8) == [2] * 6
    assert started_threads(monkeypatch, tmp_path, [None] * 3, jobs=2, cores=3) == [1] * 3


def test_threads_a_run_was_given_are_kept(monkeypatch, tmp_path):
    assert started_threads(monkeypatch, tmp_path, [3, None], jobs=2, cores=8) == [3, 4]


def stopped_comparison(monkeypatch, tmp_path, outcomes: list) -> str:
    """The message of a two-model comparison whose processes report ``outcomes`` (index, outcome)."""
    def in_processes(function, calls, workers):
        yield from outcomes

    monkeypatch.setattr(comparison, "in_processes", in_processes)
    base = TrainConfig(task="mnist", model="node", threads=1)
    with pytest.raises(Interrupted) as stop:
        comparison.run_comparison(base, ["node", "hbnode"], [0, 1], tmp_path / "c", resume=False, jobs=2,
                                  log=lambda line: None)
    return str(stop.value)


def test_a_stopped_comparison_names_every_run_that_was_going(monkeypatch, tmp_path):
    message = stopped_comparison(monkeypatch, tmp_path, [(1, Interrupted("stopped")), (0, Interrupted("stopped")),
                                                         (2, NotStarted("stopped before it started"))])
    # In the comparison's order, not the order the runs reported in.
    assert message == (f"comparison stopped during node seed 0, hbnode seed 0; continue it with: "
                       f"adamnode compare --resume {tmp_path / 'c'}")
    message = stopped_comparison(monkeypatch, tmp_path, [(0, NotStarted("stopped before it started"))])
    assert message.startswith("comparison stopped before node seed 0;")


def test_a_stop_in_a_run_of_its_own_process_ends_the_comparison_there(monkeypatch, tmp_path):
    """With --jobs 1 the run's handler takes the stop signal: the next run must not start."""
    trained = []

    def train_or_resume(config, resume):
        trained.append(config.model)
        raise Interrupted("stopped")

    monkeypatch.setattr(comparison, "_train_or_resume", train_or_resume)
    with pytest.raises(Interrupted, match="^comparison stopped during node seed 0;"):
        comparison.run_comparison(TrainConfig(task="mnist", model="node"), ["node", "hbnode"], [0], tmp_path / "c",
                                  resume=False, jobs=1, log=lambda line: None)
    assert trained == ["node"]


def test_an_error_while_the_runs_stop_does_not_hide_the_stop(monkeypatch, tmp_path):
    message = stopped_comparison(monkeypatch, tmp_path, [(0, Interrupted("stopped")), (1, ConfigError("refused"))])
    assert message.startswith("comparison stopped during node seed 0;")
