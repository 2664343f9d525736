"""How a comparison hands its runs to processes side by side (no training here: the processes are replaced)."""

from __future__ import annotations

from adamnode.training import comparison
from adamnode.training.config import TrainConfig


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
