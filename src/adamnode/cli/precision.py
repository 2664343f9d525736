"""``adamnode precision``: the work-precision study, models x solver paths at equal accuracy."""

from __future__ import annotations

import argparse
import time
import typing
from dataclasses import fields, replace
from pathlib import Path

import torch

from ..studies.precision.measure import OPTIONAL_PATHS, PATHS, check_available, variants
from ..studies.precision.settings import StudySettings, flag
from ..studies.precision.study import fixed_batches, pretrain, run_study
from ..studies.precision.record import PRECISION_FILES, RECORD, is_precision_folder, read_precision, write_precision
from ..errors import ConfigError
from ..store import (CHECKPOINT_FILE, COMPARISON_FILE, CONFIG_FILE, PRECISION_CSV, PRECISION_MD, ComparisonFolder,
                     RunFolder, check_output, claimed)
from ..tasks import DEFAULT_TASK, get_task
from ..tasks.base import Task
from ..training.checkpoint import load_checkpoint
from ..training.comparison import read_comparison
from ..config.settings import TrainConfig, config_from_settings, resolve_config
from ..training.runtime import describe_device, resolve_device
from .options import parse_names

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Measure NFE, time and memory of a training step and its errors against a float64 "
                          "reference, for every model x solver path x tolerance, on the same weights and batches.")
    hints = typing.get_type_hints(StudySettings)
    for item in fields(StudySettings):
        # Unset options stay absent, so that --resume can tell a given one from a default.
        common = {"dest": item.name, "default": argparse.SUPPRESS, "help": _help(item)}
        kind = next(kind for kind in (bool, int, float, str) if kind in (typing.get_args(hints[item.name]) or
                                                                          (hints[item.name],)))
        if kind is bool:
            parser.add_argument(flag(item.name), action="store_true", **common)
        else:
            parser.add_argument(flag(item.name), type=kind, metavar=item.metadata["metavar"], **common)
    parser.add_argument("--out", metavar="DIR", default=None, help="output folder (default runs/precision-<task>)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the study in --out (only the files adamnode wrote there are removed)")
    parser.add_argument("--resume", metavar="DIR", default=None,
                        help="continue the study in DIR (one stopped part-way) with its saved settings")
    parser.epilog = ("The study writes its files after each model, so a stopped one keeps the models it finished "
                     "and --resume measures the rest.")


def _help(item) -> str:
    shown = item.default is not None and item.default is not False
    return item.metadata["help"] + (f" (default {item.default:g})" if isinstance(item.default, float)
                                    else f" (default {item.default})" if shown else "")


def run(args: argparse.Namespace) -> int:
    done = _unfinished_study(args) if args.resume else None
    study = StudySettings.from_record(done["settings"]["arguments"]) if done else StudySettings(
        **{item.name: getattr(args, item.name) for item in fields(StudySettings) if hasattr(args, item.name)})
    saved, task = _source_and_task(study)
    models = parse_names(study.models, tuple(saved) if saved else task.models, "model", "--models")
    paths = parse_names(study.paths, PATHS + OPTIONAL_PATHS, "path", "--paths")
    check_available(paths)
    out = Path(args.resume or args.out or Path("runs") / f"precision-{task.name}")
    if not done:
        check_output(out, args.overwrite, resumable=_stopped_part_way(out))  # before the study: a refusal costs nothing
    chosen = variants(paths, study.tolerances, study.step_counts)
    config = _study_config(study, task, saved[models[0]][0] if saved else None)
    settings = config.settings()
    threads = study.threads or config.threads
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(study.device)
    batch_size = study.batch_size or config.batch_size
    train, _ = task.load(settings, device)
    batches = fixed_batches(train, study.batches, batch_size, study.seed)

    def build(name: str, options) -> torch.nn.Module:
        return task.build_model(name, options, saved[name][0] if saved else settings).to(device)

    def weights(name: str) -> dict:
        if saved:
            return saved[name][1]
        # Seeded per model: a resumed study pretrains the models it has left exactly as one run would.
        torch.manual_seed(study.seed)
        state = pretrain(build(name, config.solver), task, train, study.pretrain_steps, lr=config.lr,
                         batch_size=config.batch_size, grad_clip=config.grad_clip, seed=study.seed)
        print(f"{name}: pretrained {study.pretrain_steps} steps")
        return state

    command = replace(study, task=task.name, models=",".join(models), batch_size=batch_size, threads=threads).command()
    earlier = done["settings"]["study_seconds"] if done else 0.0
    start = time.perf_counter()

    def save(record: dict, complete: bool) -> str:
        record["settings"] = {
            "command": command, "task": task.name, "models": models,
            "weights": f"from {study.source}" if saved else
            f"{study.pretrain_steps} steps of default training (lr {config.lr:g}, tol {config.solver.rtol:g})",
            "device": describe_device(device), "torch": torch.__version__,
            "study_seconds": round(earlier + time.perf_counter() - start, 1), "complete": complete,
            "arguments": replace(study, task=task.name).record()}
        return write_precision(record, out)

    with claimed(out, PRECISION_FILES, overwrite=args.overwrite, fresh=not done,
                 resumable=_stopped_part_way(out)) as claim:
        claim.take()
        record = run_study(task, models, weights, build, chosen, batches, repeats=study.repeats,
                           reference_tol=study.reference_tol, check_tol=study.check_tol,
                           reference_adjoint=study.reference_adjoint, record=done,
                           on_model=lambda partial: save(partial, complete=False))
        page = save(record, complete=True)
    print(f"{page}\n{PRECISION_CSV}, {PRECISION_MD} and the work-precision PNGs are in {out}")
    return 0


def _source_and_task(study: StudySettings) -> tuple[dict | None, Task]:
    """The trained runs of ``--from`` (None without it) and the study's task, which they must share."""
    saved = _saved_runs(Path(study.source)) if study.source else None
    task = get_task(study.task or (next(iter(saved.values()))[0]["task"] if saved else DEFAULT_TASK))
    other = {settings["task"] for settings, _ in saved.values()} - {task.name} if saved else set()
    if other:
        raise ConfigError(f"--from {study.source} holds a {', '.join(sorted(other))} run, not {task.name}; "
                          f"drop --task or give a {task.name} folder")
    return saved, task


def _study_config(study: StudySettings, task: Task, run_settings: dict | None) -> TrainConfig:
    """The settings the study loads data and builds networks with: a saved run's own, where it has one
    (the spheres are drawn from its seed, its networks have their sizes), else the task's defaults."""
    data_dir = {"data_dir": study.data_dir} if study.data_dir else {}
    if run_settings is not None:
        return config_from_settings({**run_settings, **data_dir})
    return resolve_config({"task": task.name, "seed": study.seed, **data_dir})


def _stopped_part_way(folder: Path) -> bool:
    try:
        return not read_precision(folder)["settings"]["complete"]
    except (ValueError, KeyError):
        return False  # no study there, or not one that can be continued


def _unfinished_study(args: argparse.Namespace) -> dict:
    """The record of the study in ``--resume``'s folder, which must have stopped part-way."""
    extra = [flag(item.name) for item in fields(StudySettings) if hasattr(args, item.name)] + [
        flag for flag, given in (("--out", args.out), ("--overwrite", args.overwrite)) if given]
    if extra:
        raise ConfigError(f"--resume continues a study with its saved settings; drop {', '.join(extra)}")
    folder = Path(args.resume)
    if not is_precision_folder(folder):
        raise ConfigError(f"--resume {folder} holds no precision study ({RECORD}); give the --out folder of "
                          "adamnode precision")
    record = read_precision(folder)
    if record["settings"].get("complete"):
        raise ConfigError(f"the study in {folder} is complete; redraw it with adamnode report {folder}, "
                          "or start another with --out")
    if not isinstance(record["settings"].get("arguments"), dict):
        raise ConfigError(f"{folder / RECORD} saves no settings to continue with; start the study again with "
                          "--overwrite")
    return record


def _saved_runs(folder: Path) -> dict[str, tuple[dict, dict]]:
    """model -> (settings, trained weights) of the run in ``folder``, or of each model's first run of a comparison."""
    comparison = ComparisonFolder(folder)
    if comparison.is_comparison():
        runs = [comparison.run(name) for name in read_comparison(folder)["runs"]]
    elif RunFolder(folder).is_run():
        runs = [RunFolder(folder)]
    else:
        raise ConfigError(f"--from {folder} is not a run or compare folder (no {CONFIG_FILE} or {COMPARISON_FILE})")
    saved = {}
    for run in runs:
        if not run.has_checkpoint():
            continue
        settings = run.read_description()["settings"]
        saved.setdefault(settings["model"], (settings, load_checkpoint(run.checkpoint)["model"]))
    if not saved:
        raise ConfigError(f"--from {folder} holds no trained checkpoint ({CHECKPOINT_FILE})")
    return saved



