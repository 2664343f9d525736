"""``adamnode compare``: every model over several seeds on one task, as a table and plots."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path

from ..reports import render
from ..store import RESULTS_CSV, RESULTS_MD, claimed, is_main_process
from ..tasks import get_task
from ..config import model_options
from ..training.comparison import (COMPARISON_FILES, LocalProcesses, check_comparison, run_comparison,
                                   saved_comparison, start_comparison)
from ..config.settings import MAX_SEED, TrainConfig, load_config_file
from ..training.distributed import launched, on_main, process_group
from ..errors import ConfigError, RunError
from ..training.runtime import available_cores, resolve_device
from .options import add_training_options, config_from_args, explicit_settings, parse_names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", metavar="A,B,...", default=argparse.SUPPRESS,
                        help="comma-separated model names (default: every model of the task)")
    parser.add_argument("--seeds", type=int, metavar="N", default=argparse.SUPPRESS,
                        help="seeds per model, counting up from --seed (default 1)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="runs trained at once, each in its own process (default 1; at most the CPU cores; "
                             "without --threads each run gets its share of the cores: cores/N, more when fewer "
                             "runs are left)")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="where the runs train: local (this machine, --jobs at once; the default) or ray "
                             "(each run a Ray task on a Ray cluster, needing CPUs = its --threads (default 1) "
                             "and one GPU with --device cuda; install with pip install \"adamnode[ray]\"; see "
                             "docs/ray.md)")
    parser.add_argument("--ray-address", metavar="ADDRESS", default=None,
                        help="with --backend ray: the cluster, as HOST:PORT of its head or auto (the one "
                             "RAY_ADDRESS names, else the last started on this node); default: a Ray instance "
                             "started on this machine for the comparison, on 127.0.0.1 only")
    add_training_options(parser, exclude=("model",))
    parser.epilog = (f"Each run goes to OUT/<model>-seed<k>; OUT gets {RESULTS_CSV}, {RESULTS_MD} and PNG plots "
                     "(default OUT: runs/compare-<task>).")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "resume", None):
        out = Path(args.resume)
        if any(hasattr(args, name) for name in ("models", "seeds", "config")):
            raise ConfigError("--resume continues a comparison with its saved models, seeds and settings; "
                              "drop --models, --seeds and --config")
        changes = {key: value for key, value in explicit_settings(args).items() if key != "out"}
        base, models, seeds = saved_comparison(out, changes)
    else:
        base, models, seeds = _new_comparison(args)
        out = Path(base.out or Path("runs") / f"compare-{base.task}")
    resume = bool(getattr(args, "resume", None))
    backend = _backend(args, base)
    # Under torchrun every rank runs every training; rank 0 alone writes and prints. On Ray the driver
    # trains nothing: its machine needs no GPU of its own.
    with process_group(resolve_device(base.device)) if args.backend == "local" else nullcontext():
        if not resume:  # settings, folder, data and models checked before the folder is touched
            on_main(lambda: check_comparison(base, models, out, args.overwrite))
        with backend, claimed(out, COMPARISON_FILES, overwrite=args.overwrite, fresh=not resume,
                              on_main=on_main) as claim:
            if not resume:
                on_main(lambda: start_comparison(base, models, seeds, out, claim))
            failures = run_comparison(base, models, seeds, out, resume=resume, backend=backend,
                                      log=print if is_main_process() else lambda line: None)
            if is_main_process():
                print(render(out))
                print(f"\n{RESULTS_CSV}, {RESULTS_MD} and plots are in {out}")
    if failures:
        raise RunError(f"{len(failures)} of {len(models) * len(seeds)} runs failed ({'; '.join(failures)}); "
                       "each run's error is on its FAILED line in the output above")
    return 0


def _backend(args: argparse.Namespace, base: TrainConfig):
    """Where the runs train: ``LocalProcesses`` of ``--jobs``, or a Ray cluster (Ray imported here, so
    that a missing Ray is refused before anything is written)."""
    if args.backend == "local":
        if args.ray_address is not None:
            raise ConfigError("--ray-address names the Ray cluster of --backend ray; add --backend ray, or drop "
                              "--ray-address to train on this machine")
        _check_jobs(base, args.jobs)
        return LocalProcesses(args.jobs)
    if args.jobs != 1:
        raise ConfigError("--jobs sizes this machine's process pool; with --backend ray, Ray places the runs by "
                          "the CPUs (--threads) and GPUs each asks for: drop --jobs")
    if launched():
        raise ConfigError("--backend ray runs each training as a Ray task; under torchrun every rank would "
                          "submit them all: run adamnode compare --backend ray without torchrun")
    from ..training.ray_cluster import RayCluster

    return RayCluster(args.ray_address, base.device, base.threads)


def _check_jobs(base: TrainConfig, jobs: int) -> None:
    cores = available_cores()
    if jobs < 1 or jobs > cores:
        raise ConfigError(f"--jobs must be from 1 to the {cores} CPU core(s) available, got {jobs}")
    if jobs == 1:
        return
    if launched():
        raise ConfigError("--jobs runs several trainings side by side in one process's children; under torchrun "
                          "every rank already trains each run: drop --jobs")
    if resolve_device(base.device).type != "cpu":
        raise ConfigError("--jobs shares the CPU cores among runs; on a GPU run one comparison per card "
                          "(CUDA_VISIBLE_DEVICES), or give --device cpu")
    if base.threads is not None and jobs * base.threads > cores:
        raise ConfigError(f"--jobs {jobs} with --threads {base.threads} needs {jobs * base.threads} cores, this "
                          f"machine has {cores}; lower one of them")


def _new_comparison(args: argparse.Namespace):
    file_values = load_config_file(args.config) if getattr(args, "config", None) else {}
    models_given = args.models if hasattr(args, "models") else file_values.get("models")
    seeds = args.seeds if hasattr(args, "seeds") else file_values.get("seeds", 1)
    base = config_from_args(args, file_values, command_keys=("models", "seeds"))
    if base.model is not None:
        raise ConfigError("compare trains several models: give them with --models (or 'models' in the config file), "
                          "not 'model'")
    task = get_task(base.task)
    models = parse_names(models_given, task.models, "model", "--models")
    model_options.resolve(base.model_options, models)
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {seeds!r}")
    if base.seed + seeds - 1 > MAX_SEED:
        raise ConfigError(f"--seed {base.seed} with --seeds {seeds} runs past the largest seed, {MAX_SEED}; "
                          "start lower or run fewer seeds")
    return base, models, list(range(base.seed, base.seed + seeds))
