"""Several models over several seeds, each trained into its own folder of one comparison folder."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Callable, Iterator

import torch

from ..errors import ConfigError, DamagedFile, Interrupted, RunError
from ..models.family import options_for
from ..store import COMPARISON_FILE, Claim, ComparisonFolder, RunFolder, check_output
from ..tasks import get_task
from ..config.settings import TrainConfig, config_from_settings
from .distributed import barrier
from .processes import NotStarted, ProcessLost, in_processes
from .run import RESUMABLE_CHANGES, resume_run, train_run, with_resume_changes
from .runtime import available_cores

#: Outcomes a resumed comparison keeps instead of running again: retrying would fail the same way.
FINAL_FAILURES = ("diverged", "solver_failed")
#: The files a comparison writes into its own folder besides the report's (``render`` records those);
#: its runs have folders and manifests of their own.
COMPARISON_FILES = (COMPARISON_FILE,)


def run_folder(model: str, seed: int) -> str:
    return f"{model}-seed{seed}"


def read_comparison(out: Path) -> dict:
    """``comparison.json`` of ``out``, checked: its task and models in the registry, its seeds and
    run folders what they must be (a run folder name from the file never leads outside ``out``)."""
    folder = ComparisonFolder(out)
    if not folder.is_comparison():
        raise ConfigError(f"{out} is not a comparison folder (no {COMPARISON_FILE}); give the --out folder "
                          "of adamnode compare")
    saved = folder.read_record()
    problem = _comparison_problem(saved)
    if problem:
        raise DamagedFile(f"{folder.record} is damaged or altered ({problem}); restore it or start again with "
                          "--overwrite")
    for name in saved["runs"]:
        folder.run(name)
    return saved


def _comparison_problem(saved: dict) -> str | None:
    missing = [key for key in ("task", "models", "seeds", "settings", "runs") if key not in saved]
    if missing:
        return f"no {', '.join(missing)}"
    try:
        task = get_task(saved["task"]) if isinstance(saved["task"], str) else None
    except ValueError:
        task = None
    if task is None:
        return f"unknown task {saved['task']!r}"
    models, seeds = saved["models"], saved["seeds"]
    if (not isinstance(models, list) or not models or len(set(map(repr, models))) != len(models)
            or not all(isinstance(model, str) and model in task.models for model in models)):
        return f"models {models!r} are not distinct models of task {task.name!r}"
    if (not isinstance(seeds, list) or not seeds or len(set(map(repr, seeds))) != len(seeds)
            or not all(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 for seed in seeds)):
        return f"seeds {seeds!r} are not distinct non-negative integers"
    if not isinstance(saved["settings"], dict):
        return "settings are not a JSON object"
    if saved["runs"] != [run_folder(model, seed) for model in models for seed in seeds]:
        return "its runs are not those of its models and seeds"
    return None


def check_comparison(base: TrainConfig, models: list[str], out: Path, overwrite: bool) -> None:
    """Everything a new comparison can check before its folder is touched: the folder may be used,
    the task's data loads and passes its checks, and every model builds."""
    check_output(out, overwrite)
    task = get_task(base.task)
    task.load(model_config(base, models[0]).settings(), torch.device("cpu"))
    for model in models:
        task.build_model(model, base.solver, model_config(base, model).settings())


def model_config(base: TrainConfig, model: str, **changes) -> TrainConfig:
    """The comparison's settings for one ``model``: only the model options it takes, so its row of
    the table shows those."""
    return base.replace(model=model, model_options=options_for(model, base.model_options), **changes)


def start_comparison(base: TrainConfig, models: list[str], seeds: list[int], out: Path, claim: Claim) -> None:
    """Take the claimed folder ``out`` (``check_comparison`` passed: the comparison it replaces, if any,
    is cleared) and describe the new comparison in it."""
    runs = [run_folder(model, seed) for model in models for seed in seeds]
    claim.take(folders=runs)
    ComparisonFolder(out).write_record({
        "task": base.task, "models": models, "seeds": seeds, "settings": base.settings(), "runs": runs,
    })


def saved_comparison(out: Path, changes: dict) -> tuple[TrainConfig, list[str], list[int]]:
    """The base config, models and seeds of the comparison in ``out``, with resumable ``changes``."""
    saved = read_comparison(out)
    try:
        settings = config_from_settings(saved["settings"])
    except (ConfigError, TypeError) as error:
        raise ConfigError(f"{ComparisonFolder(out).record} holds invalid settings ({error}); restore it or start "
                          "again with --overwrite") from None
    base = with_resume_changes(settings, changes, out)
    return base, saved["models"], saved["seeds"]


class LocalProcesses:
    """Where a comparison's runs train by default: this machine, ``jobs`` at once, each in a process of
    its own (``in_processes``); with one job, one after the other in this process.

    A backend (this one, or ``ray_cluster.RayCluster`` for ``--backend ray``) is entered around the
    comparison, says whether runs train ``inline``, gives each run's config its threads (``prepare``)
    and yields ``(position, outcome)`` for calls ``(config, resume, show_progress)`` of ``function``
    as they finish (``outcomes``), with ``in_processes``'s rules for stops and early closing.
    """

    #: What ``compare --resume DIR`` needs besides to run the same way (a stop message names it).
    resume_flags = ""

    def __init__(self, jobs: int = 1):
        self.jobs = jobs
        self.inline = jobs == 1

    def __enter__(self) -> "LocalProcesses":
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def prepare(self, configs: list[TrainConfig]) -> list[TrainConfig]:
        # Runs side by side each get their share of the cores unless --threads says otherwise, shared
        # among the runs that will train, not --jobs: two runs left of a resumed --jobs 4 get half each.
        # The share goes into each run's settings, not the comparison's, which a later --resume may run
        # another way.
        share = max(1, available_cores() // min(self.jobs, len(configs)))
        return [config if config.threads is not None else config.replace(threads=share) for config in configs]

    def outcomes(self, function: Callable, calls: list[tuple]) -> Iterator[tuple[int, object]]:
        return in_processes(function, calls, self.jobs)


def run_comparison(base: TrainConfig, models: list[str], seeds: list[int], out: Path, *, resume: bool,
                   jobs: int = 1, backend=None, log: Callable[[str], None] = print) -> list[str]:
    """Train every (model, seed) not yet done, ``jobs`` at a time (or on ``backend``, a ``LocalProcesses``
    of ``jobs`` when not given); return the failed ones as "model seed N"
    (with how its process died, if it did).

    Seed by seed, every model within a seed: a comparison stopped part way has whole seeds of every model,
    which a table can use, rather than every seed of a few models.
    """
    runs = [(model, seed) for seed in seeds for model in models]
    comparison = ComparisonFolder(out)
    configs = [model_config(base, model, seed=seed, out=str(comparison.run(run_folder(model, seed)).path))
               for model, seed in runs]
    failures, stopped, not_started, ending = [], [], None, None
    backend = backend if backend is not None else LocalProcesses(jobs)
    with closing(_outcomes(configs, resume, jobs, backend)) as outcomes:
        for index, outcome in outcomes:
            model, seed = runs[index]
            label = f"[{index + 1}/{len(runs)}] {model} seed {seed}"
            # After a stop every run that was going still reports, so the message can name them all.
            if isinstance(outcome, NotStarted):
                not_started = f"{model} seed {seed}"
            elif isinstance(outcome, Interrupted):
                stopped.append(index)
            elif isinstance(outcome, RunError):
                # A dead process printed nothing of its own: the comparison's last line says what happened.
                died = f", whose process died ({outcome.how})" if isinstance(outcome, ProcessLost) else ""
                failures.append(f"{model} seed {seed}{died}")
                log(f"{label}: FAILED: {outcome}")
            elif isinstance(outcome, Exception):
                if not stopped:
                    raise outcome  # closing the outcomes stops the runs still going
                ending = ending or outcome  # they are stopping already; the stop, which can be resumed, comes first
            else:
                log(f"{label}: {summary_line(outcome)}")
    if stopped or not_started:
        names = ", ".join(f"{runs[index][0]} seed {runs[index][1]}" for index in sorted(stopped))
        raise Interrupted(f"comparison stopped {f'during {names}' if stopped else f'before {not_started}'}; "
                          f"continue it with: adamnode compare --resume {out}{backend.resume_flags}") from ending
    return failures


def _outcomes(configs: list[TrainConfig], resume: bool, jobs: int = 1,
              backend=None) -> Iterator[tuple[int, dict | Exception]]:
    """(index, summary or the exception it ended with) of each run, in the order they finish; none
    after a run that ended ``Interrupted``."""
    backend = backend if backend is not None else LocalProcesses(jobs)
    to_train = []
    for index, config in enumerate(configs):
        try:
            outcome = _kept(config, resume)
            if outcome is None and backend.inline:
                outcome = _train_or_resume(config, resume)
        except RunError as error:
            outcome = error
        if outcome is None:
            to_train.append(index)
        else:
            yield index, outcome
            if isinstance(outcome, Interrupted):
                return  # the stop signal was the run's to answer: the next run would not see it
    if to_train:
        # No progress bars: those of runs side by side would overwrite each other.
        calls = [(config, resume, False) for config in backend.prepare([configs[index] for index in to_train])]
        # Closed with this generator, at once: an error that ends the comparison first stops the runs still going.
        with closing(backend.outcomes(_train_or_resume, calls)) as outcomes:
            for position, outcome in outcomes:
                yield to_train[position], outcome


def _kept(config: TrainConfig, resume: bool) -> dict | None:
    """The summary of a finished run a resumed comparison keeps; ``RunError`` for a final failure."""
    folder = RunFolder(config.out)
    summary = folder.read_summary(("status", "error", "epochs_completed")) \
        if resume and folder.has_summary() else None
    if summary and summary["status"] == "complete" and summary["epochs_completed"] >= config.epochs:
        return summary
    if summary and summary["status"] in FINAL_FAILURES:
        raise RunError(f"kept from the earlier attempt: {summary['status']} ({summary['error']})")
    return None


def _train_or_resume(config: TrainConfig, resume: bool, show_progress: bool = True) -> dict:
    folder = RunFolder(config.out)
    if resume and folder.has_checkpoint():
        changes = {key: getattr(config, key) for key in RESUMABLE_CHANGES}
        return resume_run(folder, changes, show_progress=show_progress, log=None)
    # Under torchrun rank 0 is about to clear the folder the other ranks may still be reading.
    barrier()
    return train_run(config, folder, overwrite=True, show_progress=show_progress, log=None)


def summary_line(summary: dict) -> str:
    """A finished run's figures on one line, as the comparison logs them."""
    final, metric = summary["final"], summary["metric"]
    return (f"train loss {final['train_loss']:.4f}, test {metric} {final[f'test_{metric}']:.3f}, "
            f"NFE-F {final['nfe_forward']:.1f}, NFE-B {final['nfe_backward']:.1f}, "
            f"{summary['seconds_per_epoch']:.2f} s/epoch")
