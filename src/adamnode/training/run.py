"""One training run from start to summary: its folder, its files, and what happens on each fault."""

from __future__ import annotations

import datetime
from pathlib import Path

import torch

from ..errors import CheckpointError, ConfigError, DamagedFile, Diverged, Interrupted, RunError
from ..solve import SolverError
from ..store import RUN_FILES, RunFolder, claimed, is_main_process, read_manifest
from ..tasks import get_task
from ..tasks.base import Task
from .checkpoint import load_checkpoint
from ..config.settings import TrainConfig, config_from_settings, flag, one_line
from .distributed import on_main, process_group, world_size
from .interrupt import deferred_interrupt
from .metrics import ode_blocks
from .runtime import describe_device, resolve_device, versions
from .trainer import StopRequested, Trainer

#: Settings a resumed run may change: extending it, moving it to another device, how often it checkpoints.
RESUMABLE_CHANGES = ("epochs", "device", "threads", "checkpoint_minutes")


def default_run_folder(config: TrainConfig) -> RunFolder:
    return RunFolder(Path("runs") / f"{config.task}-{config.model}-seed{config.seed}")


def resumed_config(folder: RunFolder, changes: dict) -> tuple[TrainConfig, dict]:
    """The config saved in ``folder``'s checkpoint with ``changes`` applied, and the checkpoint."""
    if not folder.has_checkpoint() and read_manifest(folder.path) is not None:
        raise CheckpointError(f"{folder.path} has no checkpoint yet: its run was stopped before it wrote the first "
                              f"one; start it again with --overwrite")
    state = load_checkpoint(folder.checkpoint)
    return with_resume_changes(config_from_settings(state["settings"]), changes, folder.path), state


def resume_run(folder: RunFolder, changes: dict, *, show_progress: bool = True, log=print) -> dict:
    """Continue the run in ``folder`` from its checkpoint with the resumable ``changes``; the run's lock
    is held from reading the checkpoint to the last write, so no other process moves it meanwhile."""
    with folder.lock():
        config, state = resumed_config(folder, changes)
        return train_run(config, folder, resume_state=state, show_progress=show_progress, log=log)


def with_resume_changes(saved: TrainConfig, changes: dict, where: Path) -> TrainConfig:
    """``saved`` with the explicit ``changes`` a resumed run may make; any other change is refused."""
    refused = sorted(key for key, value in changes.items()
                     if key not in RESUMABLE_CHANGES and saved.settings().get(key) != value)
    if refused:
        raise ConfigError(f"{', '.join(flag(key) for key in refused)} cannot change when resuming {where} "
                          f"(only {', '.join(flag(key) for key in RESUMABLE_CHANGES)} can); "
                          "start a new run with another --out instead")
    return saved.replace(**{key: value for key, value in changes.items() if key in RESUMABLE_CHANGES})


def train_run(config: TrainConfig, folder: RunFolder, *, resume_state: dict | None = None, overwrite: bool = False,
              show_progress: bool = True, log=print) -> dict:
    """Train one model into ``folder`` and return its summary; faults raise ``RunError``.

    With ``resume_state`` (a loaded checkpoint of this run) training continues where it stopped;
    otherwise ``folder`` is prepared as a fresh output folder. Under torchrun every rank calls it;
    it joins the job's process group (unless its caller did) for the run's duration.
    """
    if config.model is None:
        raise ConfigError(f"no model given; choose one with --model from {', '.join(get_task(config.task).models)}")
    task = get_task(config.task)
    device = resolve_device(config.device)
    fresh = resume_state is None
    with process_group(device):
        with claimed(folder.path, RUN_FILES, overwrite=overwrite, fresh=fresh, on_main=on_main) as claim:
            return _train(config, task, folder, device, resume_state=resume_state, claim=claim,
                          show_progress=show_progress, log=log)


def _train(config: TrainConfig, task: Task, folder: RunFolder, device: torch.device, *, resume_state: dict | None,
           claim, show_progress: bool, log) -> dict:
    # Loads and checks the data and builds the model; nothing is written or removed before it succeeds.
    trainer = Trainer(config, task, folder, device, show_progress=show_progress)
    if resume_state is None:
        claim.take()
        trainer.save()
    else:
        trainer.load_state_dict(resume_state)
        if config.epochs < trainer.epoch:
            raise ConfigError(f"{folder.path} already has {trainer.epoch} epochs; --epochs must be at least that")
        trainer.save()
    already_done = trainer.epoch >= config.epochs
    description = run_description(trainer, device)
    if resume_state is not None and _begun_by_0_1_0(folder):
        # Its fields were built with 0.1.0's defaults, which today's options would misstate.
        del description["fields"]
    folder.write_description(description)
    context = f"{config.model} on {config.task} (seed {config.seed})"
    try:
        with deferred_interrupt() as request:
            trainer.stop = request
            trainer.fit()
    except StopRequested:
        trainer.save()
        _finish(trainer, "interrupted", f"stopped by the user after {trainer.done()}")
        raise Interrupted(f"{context} stopped after {trainer.done()}; checkpoint saved; "
                          f"continue with: adamnode train --resume {folder.path}") from None
    except KeyboardInterrupt:
        _finish(trainer, "interrupted", "interrupted at once by a second Ctrl-C or SIGTERM")
        raise Interrupted(f"{context} interrupted; continue from its last checkpoint with: "
                          f"adamnode train --resume {folder.path}") from None
    except Diverged as error:
        message = f"{context}: {error}; {_saved_files_note(trainer)}; lower --lr or set --grad-clip"
        _finish(trainer, "diverged", str(error))
        raise Diverged(message) from None
    except SolverError as error:
        where = trainer.position()
        _finish(trainer, "solver_failed", f"{where}: {error.reason}")
        raise RunError(f"{context}, {where}: {one_line(error)}; {_saved_files_note(trainer)}") from None
    summary = _finish(trainer, "complete", None)
    if log is not None and is_main_process():
        log(f"{context}: {trainer.epoch} epochs done; results in {folder.path}"
            + (" already (pass a larger --epochs to train further)" if already_done else ""))
    return summary


def run_description(trainer: Trainer, device) -> dict:
    return {"settings": trainer.config.settings(), "metric": trainer.task.metric,
            "extra_metrics": list(trainer.task.extra_metrics),
            "metric_goal": trainer.task.metric_goal, "parameters": trainer.parameters,
            "fields": [{"class": type(block.field).__name__, "options": _recordable(block.field.options)}
                       for block in ode_blocks(trainer.model)],
            "device": describe_device(device), "processes": world_size(), "versions": versions(),
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _begun_by_0_1_0(folder: RunFolder) -> bool:
    """Whether the run in ``folder`` was begun by adamnode 0.1.0, whose description records no fields."""
    try:
        return folder.is_run() and "fields" not in folder.read_description(())
    except DamagedFile:  # rewritten whole below
        return False


def _recordable(options: dict) -> dict:
    """``options`` as JSON keeps them: numbers, strings, flags and None as they are, anything else by its repr."""
    return {key: value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)
            for key, value in options.items()}


def _finish(trainer: Trainer, status: str, error: str | None) -> dict:
    history = trainer.history
    summary = {
        "status": status, "error": error,
        "task": trainer.config.task, "model": trainer.config.model, "seed": trainer.config.seed,
        "metric": trainer.task.metric, "parameters": trainer.parameters,
        "epochs_completed": trainer.epoch, "epochs": trainer.config.epochs,
        "final": history[-1] if history else None,
        "seconds_per_epoch": sum(row["seconds"] for row in history) / len(history) if history else None,
    }
    trainer.folder.write_summary(summary)
    return summary


def _saved_files_note(trainer: Trainer) -> str:
    return f"the last good checkpoint is kept in {trainer.folder.checkpoint}"
