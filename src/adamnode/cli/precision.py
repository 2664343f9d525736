"""``adamnode precision``: the work-precision study, models x solver paths at equal accuracy."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from ..experiments.precision import CHECK_TOL, OPTIONAL_PATHS, PATHS, REFERENCE_TOL, check_available, variants
from ..experiments.precision_study import fixed_batches, pretrain, run_study
from ..reports.precision import PRECISION_FILES, write_precision
from ..tasks import DEFAULT_TASK, get_task
from ..training.checkpoint import CHECKPOINT_FILE, load_checkpoint
from ..training.config import config_from_settings, resolve_config
from ..training.errors import ConfigError
from ..training.folders import check_output, replace_output, writing
from ..files import read_json
from ..training.run import COMPARISON_FILE, CONFIG_FILE
from ..training.runtime import describe_device, resolve_device

DEFAULTS = {"tols": "1e-2,1e-3,1e-4,1e-5", "paths": "default,warm,direct,fixed,reference", "fixed_steps": "1,2,4,8",
            "batches": 2, "pretrain_steps": 24, "repeats": 1}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Measure NFE, time and memory of a training step and its errors against a float64 "
                          "reference, for every model x solver path x tolerance, on the same weights and batches.")
    add = parser.add_argument
    add("--task", default=None, help=f"task (default {DEFAULT_TASK}, or the task of --from)")
    add("--models", metavar="A,B,...", default=None, help="models (default: every model of the task, or of --from)")
    add("--tols", metavar="X,Y,...", default=DEFAULTS["tols"], help="tolerances (rtol = atol) of the adaptive paths "
        "(default %(default)s)")
    add("--paths", metavar="P,Q,...", default=DEFAULTS["paths"], help=f"solver paths: {', '.join(PATHS)}, "
        f"and where torchdyn imports {', '.join(OPTIONAL_PATHS)} (default: {DEFAULTS['paths']})")
    add("--fixed-steps", metavar="N,M,...", default=DEFAULTS["fixed_steps"],
        help="rk4 step counts of the fixed path (default %(default)s)")
    add("--batches", type=int, metavar="K", default=DEFAULTS["batches"], help="fixed batches (default %(default)s)")
    add("--batch-size", type=int, metavar="B", default=None, help="batch size (default: the task's)")
    add("--repeats", type=int, metavar="R", default=DEFAULTS["repeats"],
        help="timed passes over the batches (default %(default)s)")
    add("--seed", type=int, default=0, help="seed of the batches, initialisation and pretraining (default 0)")
    add("--device", choices=("auto", "cpu", "cuda"), default="auto")
    add("--threads", type=int, metavar="N", default=None, help="CPU threads (default: the task's setting)")
    add("--data-dir", metavar="DIR", default=None, help="folder with the task's data files")
    add("--out", metavar="DIR", default=None, help="output folder (default runs/precision-<task>)")
    add("--overwrite", action="store_true",
        help="replace the study in --out (only the files adamnode wrote there are removed)")
    add("--from", dest="source", metavar="RUN_DIR", default=None,
        help="a run or compare folder of the same task: measure its trained weights")
    add("--pretrain-steps", type=int, metavar="N", default=DEFAULTS["pretrain_steps"],
        help="without --from: train this many steps of the default training first (default %(default)s)")
    add("--reference-tol", type=float, metavar="X", default=REFERENCE_TOL, help="float64 reference (default %(default)g)")
    add("--check-tol", type=float, metavar="X", default=CHECK_TOL,
        help="tighter tolerance whose solve estimates the reference's own error (default %(default)g)")
    add("--reference-adjoint", action="store_true",
        help="backprop the reference by the adjoint (no seminorm) instead of directly: memory that does not grow "
             "with its steps, for networks whose tight direct solve does not fit")


def run(args: argparse.Namespace) -> int:
    saved = _saved_runs(Path(args.source)) if args.source else None
    task_name = args.task or (next(iter(saved.values()))[0]["task"] if saved else DEFAULT_TASK)
    task = get_task(task_name)
    if saved:
        other = {settings["task"] for settings, _ in saved.values()} - {task.name}
        if other:
            raise ConfigError(f"--from {args.source} holds a {', '.join(sorted(other))} run, not {task.name}; "
                              f"drop --task or give a {task.name} folder")
    models = _names(args.models, tuple(saved) if saved else task.models, "model")
    paths = _names(args.paths, PATHS + OPTIONAL_PATHS, "path")
    check_available(paths)
    out = Path(args.out or Path("runs") / f"precision-{task.name}")
    check_output(out, args.overwrite, resumable=False)  # before the study: a refusal costs nothing
    chosen = variants(paths, _positive_list(args.tols, float, "--tols"),
                      _positive_list(args.fixed_steps, int, "--fixed-steps"))
    for name in ("batches", "repeats", "reference_tol", "check_tol"):
        if not getattr(args, name) > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.pretrain_steps < 0 or (args.batch_size is not None and args.batch_size < 1):
        raise ConfigError("--pretrain-steps must be at least 0 and --batch-size at least 1")
    if not args.check_tol < args.reference_tol:
        raise ConfigError(f"--check-tol ({args.check_tol:g}) must be tighter than --reference-tol "
                          f"({args.reference_tol:g})")
    data_dir = {"data_dir": args.data_dir} if args.data_dir else {}
    # A saved run's own settings: its data (the spheres are drawn from its seed) and its networks' sizes.
    config = (config_from_settings({**saved[models[0]][0], **data_dir}) if saved
              else resolve_config({"task": task.name, "seed": args.seed, **data_dir}))
    settings = config.settings()
    threads = args.threads or config.threads
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(args.device)
    batch_size = args.batch_size or config.batch_size
    train, _ = task.load(settings, device)
    batches = fixed_batches(train, args.batches, batch_size, args.seed)

    def build(name: str, options) -> torch.nn.Module:
        return task.build_model(name, options, saved[name][0] if saved else settings).to(device)

    start = time.perf_counter()
    states = {}
    for name in models:
        if saved:
            states[name] = saved[name][1]
            continue
        torch.manual_seed(args.seed)
        states[name] = pretrain(build(name, config.solver), task, train, args.pretrain_steps, lr=config.lr,
                                batch_size=config.batch_size, grad_clip=config.grad_clip, seed=args.seed)
        print(f"{name}: pretrained {args.pretrain_steps} steps")
    command = (f"adamnode precision --task {task.name} --models {','.join(models)} --tols {args.tols} "
               f"--paths {args.paths} --fixed-steps {args.fixed_steps} --batches {args.batches} "
               f"--batch-size {batch_size} --repeats {args.repeats} --seed {args.seed} --threads {threads} "
               + (f"--from {args.source}" if saved else f"--pretrain-steps {args.pretrain_steps}")
               + f" --reference-tol {args.reference_tol:g} --check-tol {args.check_tol:g}"
               + (" --reference-adjoint" if args.reference_adjoint else ""))
    record = run_study(task, states, build, chosen, batches, repeats=args.repeats, reference_tol=args.reference_tol,
                       check_tol=args.check_tol, reference_adjoint=args.reference_adjoint)
    record["settings"] = {"command": command, "task": task.name, "weights": f"from {args.source}" if saved else
                          f"{args.pretrain_steps} steps of default training (lr {config.lr:g}, tol {config.tol:g})",
                          "device": describe_device(device), "torch": torch.__version__,
                          "study_seconds": round(time.perf_counter() - start, 1)}
    with writing(out, create=True) as created:
        check_output(out, args.overwrite, resumable=False)  # again, now that we hold the folder
        replace_output(out, PRECISION_FILES, created=created)
        page = write_precision(record, out)
    print(page, end="")
    print(f"\nprecision.csv, precision.md and the work-precision PNGs are in {out}")
    return 0


def _saved_runs(folder: Path) -> dict[str, tuple[dict, dict]]:
    """model -> (settings, trained weights) of the run in ``folder``, or of each model's first run of a comparison."""
    if (folder / COMPARISON_FILE).is_file():
        runs = [folder / name for name in read_json(folder / COMPARISON_FILE)["runs"]]
    elif (folder / CONFIG_FILE).is_file():
        runs = [folder]
    else:
        raise ConfigError(f"--from {folder} is not a run or compare folder (no {CONFIG_FILE} or {COMPARISON_FILE})")
    saved = {}
    for run_dir in runs:
        if not (run_dir / CHECKPOINT_FILE).is_file():
            continue
        settings = read_json(run_dir / CONFIG_FILE)["settings"]
        saved.setdefault(settings["model"], (settings, load_checkpoint(run_dir / CHECKPOINT_FILE)["model"]))
    if not saved:
        raise ConfigError(f"--from {folder} holds no trained checkpoint ({CHECKPOINT_FILE})")
    return saved


def _names(given: str | None, valid: tuple[str, ...], what: str) -> list[str]:
    """The names listed in ``given`` (all of ``valid`` for None), each checked, in order, once."""
    if given is None:
        return list(valid)
    names = [name.strip().lower() for name in given.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        raise ConfigError(f"unknown {what}(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(valid)}")
    return list(dict.fromkeys(names))


def _positive_list(given: str, kind: type, flag: str) -> list:
    try:
        values = [kind(value) for value in given.split(",") if value.strip()]
    except ValueError:
        raise ConfigError(f"{flag} must be a comma-separated list of positive numbers, got {given!r}") from None
    if not values or any(not (math.isfinite(value) and value > 0) for value in values):
        raise ConfigError(f"{flag} must be positive numbers, got {given!r}")
    return sorted(set(values))
