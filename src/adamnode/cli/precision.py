"""``adamnode precision``: the work-precision study, models x solver paths at equal accuracy."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from ..studies.precision.measure import CHECK_TOL, OPTIONAL_PATHS, PATHS, REFERENCE_TOL, check_available, variants
from ..studies.precision.study import fixed_batches, pretrain, run_study
from ..studies.precision.record import PRECISION_FILES, RECORD, is_precision_folder, read_precision, write_precision
from ..errors import ConfigError
from ..store import (CHECKPOINT_FILE, COMPARISON_FILE, CONFIG_FILE, PRECISION_CSV, PRECISION_MD, ComparisonFolder,
                     RunFolder, check_output, claimed)
from ..tasks import DEFAULT_TASK, get_task
from ..tasks.base import Task
from ..training.checkpoint import load_checkpoint
from ..training.comparison import read_comparison
from ..config.settings import TrainConfig, check_seed, config_from_settings, resolve_config
from ..training.runtime import describe_device, resolve_device
from .options import parse_names

#: Every setting of a study, with its default; a study saves them, so ``--resume`` needs none.
DEFAULTS = {"task": None, "models": None, "tols": "1e-2,1e-3,1e-4,1e-5", "paths": "default,warm,direct,fixed,reference",
            "fixed_steps": "1,2,4,8", "batches": 2, "batch_size": None, "repeats": 1, "seed": 0, "device": "auto",
            "threads": None, "data_dir": None, "source": None, "pretrain_steps": 24, "reference_tol": REFERENCE_TOL,
            "check_tol": CHECK_TOL, "reference_adjoint": False}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Measure NFE, time and memory of a training step and its errors against a float64 "
                          "reference, for every model x solver path x tolerance, on the same weights and batches.")

    def add(flag: str, help: str, **kwargs) -> None:
        # Unset options stay absent, so that --resume can tell a given one from a default.
        parser.add_argument(flag, default=argparse.SUPPRESS, help=help, **kwargs)

    add("--task", help=f"task (default {DEFAULT_TASK}, or the task of --from)")
    add("--models", metavar="A,B,...", help="models (default: every model of the task, or of --from)")
    add("--tols", metavar="X,Y,...", help=f"tolerances (rtol = atol) of the adaptive paths (default {DEFAULTS['tols']})")
    add("--paths", metavar="P,Q,...", help=f"solver paths: {', '.join(PATHS)}, and where torchdyn imports "
        f"{', '.join(OPTIONAL_PATHS)} (default: {DEFAULTS['paths']})")
    add("--fixed-steps", metavar="N,M,...", help=f"rk4 step counts of the fixed path (default {DEFAULTS['fixed_steps']})")
    add("--batches", type=int, metavar="K", help=f"fixed batches (default {DEFAULTS['batches']})")
    add("--batch-size", type=int, metavar="B", help="batch size (default: the task's)")
    add("--repeats", type=int, metavar="R", help=f"timed passes over the batches (default {DEFAULTS['repeats']})")
    add("--seed", type=int, help="seed of the batches, initialisation and pretraining (default 0)")
    add("--device", choices=("auto", "cpu", "cuda"), help="device (default auto)")
    add("--threads", type=int, metavar="N", help="CPU threads (default: the task's setting)")
    add("--data-dir", metavar="DIR", help="folder with the task's data files")
    add("--from", dest="source", metavar="RUN_DIR",
        help="a run or compare folder of the same task: measure its trained weights")
    add("--pretrain-steps", type=int, metavar="N",
        help=f"without --from: train this many steps of the default training first (default {DEFAULTS['pretrain_steps']})")
    add("--reference-tol", type=float, metavar="X", help=f"float64 reference (default {REFERENCE_TOL:g})")
    add("--check-tol", type=float, metavar="X",
        help=f"tighter tolerance whose solve estimates the reference's own error (default {CHECK_TOL:g})")
    add("--reference-adjoint", action="store_true",
        help="backprop the reference by the adjoint (no seminorm) instead of directly: memory that does not grow "
             "with its steps, for networks whose tight direct solve does not fit; far slower on ReLU fields")
    parser.add_argument("--out", metavar="DIR", default=None, help="output folder (default runs/precision-<task>)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the study in --out (only the files adamnode wrote there are removed)")
    parser.add_argument("--resume", metavar="DIR", default=None,
                        help="continue the study in DIR (one stopped part-way) with its saved settings")
    parser.epilog = ("The study writes its files after each model, so a stopped one keeps the models it finished "
                     "and --resume measures the rest.")


def run(args: argparse.Namespace) -> int:
    done = _unfinished_study(args) if args.resume else None
    study = {**DEFAULTS, **(done["settings"]["arguments"] if done else
                            {key: getattr(args, key) for key in DEFAULTS if hasattr(args, key)})}
    saved, task = _source_and_task(study)
    models = parse_names(study["models"], tuple(saved) if saved else task.models, "model", "--models")
    paths = parse_names(study["paths"], PATHS + OPTIONAL_PATHS, "path", "--paths")
    check_available(paths)
    out = Path(args.resume or args.out or Path("runs") / f"precision-{task.name}")
    if not done:
        check_output(out, args.overwrite, resumable=_stopped_part_way(out))  # before the study: a refusal costs nothing
    chosen = _checked_variants(study, paths)
    config = _study_config(study, task, saved[models[0]][0] if saved else None)
    settings = config.settings()
    threads = study["threads"] or config.threads
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(study["device"])
    batch_size = study["batch_size"] or config.batch_size
    train, _ = task.load(settings, device)
    batches = fixed_batches(train, study["batches"], batch_size, study["seed"])

    def build(name: str, options) -> torch.nn.Module:
        return task.build_model(name, options, saved[name][0] if saved else settings).to(device)

    def weights(name: str) -> dict:
        if saved:
            return saved[name][1]
        # Seeded per model: a resumed study pretrains the models it has left exactly as one run would.
        torch.manual_seed(study["seed"])
        state = pretrain(build(name, config.solver), task, train, study["pretrain_steps"], lr=config.lr,
                         batch_size=config.batch_size, grad_clip=config.grad_clip, seed=study["seed"])
        print(f"{name}: pretrained {study['pretrain_steps']} steps")
        return state

    command = _command({**study, "task": task.name, "models": ",".join(models), "batch_size": batch_size,
                        "threads": threads})
    earlier = done["settings"]["study_seconds"] if done else 0.0
    start = time.perf_counter()

    def save(record: dict, complete: bool) -> str:
        record["settings"] = {
            "command": command, "task": task.name, "models": models,
            "weights": f"from {study['source']}" if saved else
            f"{study['pretrain_steps']} steps of default training (lr {config.lr:g}, tol {config.solver.rtol:g})",
            "device": describe_device(device), "torch": torch.__version__,
            "study_seconds": round(earlier + time.perf_counter() - start, 1), "complete": complete,
            "arguments": {**study, "task": task.name}}
        return write_precision(record, out)

    with claimed(out, PRECISION_FILES, overwrite=args.overwrite, fresh=not done,
                 resumable=_stopped_part_way(out)) as claim:
        claim.take()
        record = run_study(task, models, weights, build, chosen, batches, repeats=study["repeats"],
                           reference_tol=study["reference_tol"], check_tol=study["check_tol"],
                           reference_adjoint=study["reference_adjoint"], record=done,
                           on_model=lambda partial: save(partial, complete=False))
        page = save(record, complete=True)
    print(f"{page}\n{PRECISION_CSV}, {PRECISION_MD} and the work-precision PNGs are in {out}")
    return 0


def _source_and_task(study: dict) -> tuple[dict | None, Task]:
    """The trained runs of ``--from`` (None without it) and the study's task, which they must share."""
    saved = _saved_runs(Path(study["source"])) if study["source"] else None
    task = get_task(study["task"] or (next(iter(saved.values()))[0]["task"] if saved else DEFAULT_TASK))
    other = {settings["task"] for settings, _ in saved.values()} - {task.name} if saved else set()
    if other:
        raise ConfigError(f"--from {study['source']} holds a {', '.join(sorted(other))} run, not {task.name}; "
                          f"drop --task or give a {task.name} folder")
    return saved, task


def _study_config(study: dict, task: Task, run_settings: dict | None) -> TrainConfig:
    """The settings the study loads data and builds networks with: a saved run's own, where it has one
    (the spheres are drawn from its seed, its networks have their sizes), else the task's defaults."""
    data_dir = {"data_dir": study["data_dir"]} if study["data_dir"] else {}
    if run_settings is not None:
        return config_from_settings({**run_settings, **data_dir})
    return resolve_config({"task": task.name, "seed": study["seed"], **data_dir})


def _command(arguments: dict) -> str:
    """The command that measures the study again: its settings as flags, in ``DEFAULTS``' order, less
    where this machine keeps its data and which device it used."""
    words = ["adamnode precision"]
    left_out = ("device", "data_dir", "pretrain_steps" if arguments["source"] else "source")
    for key in DEFAULTS:
        value = arguments[key]
        if key in left_out or value is None or value is False:
            continue
        words.append(_flag(key) if value is True else f"{_flag(key)} {value:g}" if isinstance(value, float)
                     else f"{_flag(key)} {value}")
    return " ".join(words)


def _checked_variants(study: dict, paths: list[str]) -> list:
    for name in ("batches", "repeats", "reference_tol", "check_tol", "threads"):
        if study[name] is not None and not (math.isfinite(study[name]) and study[name] > 0):
            raise ConfigError(f"{_flag(name)} must be a positive number, got {study[name]}")
    check_seed(study["seed"])
    if study["pretrain_steps"] < 0 or (study["batch_size"] is not None and study["batch_size"] < 1):
        raise ConfigError("--pretrain-steps must be at least 0 and --batch-size at least 1")
    if not study["check_tol"] < study["reference_tol"]:
        raise ConfigError(f"--check-tol ({study['check_tol']:g}) must be tighter than --reference-tol "
                          f"({study['reference_tol']:g})")
    return variants(paths, _positive_list(study["tols"], float, "--tols"),
                    _positive_list(study["fixed_steps"], int, "--fixed-steps"))


def _flag(key: str) -> str:
    return "--from" if key == "source" else f"--{key.replace('_', '-')}"


def _stopped_part_way(folder: Path) -> bool:
    try:
        return not read_precision(folder)["settings"]["complete"]
    except (ValueError, KeyError):
        return False  # no study there, or not one that can be continued


def _unfinished_study(args: argparse.Namespace) -> dict:
    """The record of the study in ``--resume``'s folder, which must have stopped part-way."""
    extra = [_flag(key) for key in DEFAULTS if hasattr(args, key)] + [
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



def _positive_list(given: str, kind: type, flag: str) -> list:
    try:
        values = [kind(value) for value in given.split(",") if value.strip()]
    except ValueError:
        raise ConfigError(f"{flag} must be a comma-separated list of positive numbers, got {given!r}") from None
    if not values or any(not (math.isfinite(value) and value > 0) for value in values):
        raise ConfigError(f"{flag} must be positive numbers, got {given!r}")
    return sorted(set(values))
