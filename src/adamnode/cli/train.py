"""``adamnode train``: train one model on a task into a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import CheckpointError, ConfigError
from ..store import RUN_FILES, RunFolder
from ..training.folders import folder_lock
from ..training.run import default_run_dir, resumed_config, train_run
from .options import add_training_options, config_from_args, explicit_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_options(parser)
    parser.epilog = f"Writes {', '.join(RUN_FILES)} into the output folder."


def run(args: argparse.Namespace) -> int:
    if getattr(args, "resume", None):
        return _resume(args)
    config = config_from_args(args)
    train_run(config, Path(config.out) if config.out else default_run_dir(config), overwrite=args.overwrite)
    return 0


def _resume(args: argparse.Namespace) -> int:
    run_dir = Path(args.resume)
    if getattr(args, "config", None) or args.overwrite:
        raise ConfigError("--resume continues a run with its saved settings; drop --config and --overwrite")
    changes = explicit_settings(args)
    out = changes.pop("out", None)
    if out is not None and Path(out) != run_dir:
        raise ConfigError(f"--out {out} differs from --resume {run_dir}; a resumed run stays in its folder")
    if not run_dir.is_dir():
        raise CheckpointError(f"no checkpoint at {RunFolder(run_dir).checkpoint}; point --resume at a run folder "
                              "written by adamnode train")
    # Held from reading the checkpoint to the last write: no other process may move the run meanwhile.
    with folder_lock(run_dir):
        config, state = resumed_config(run_dir, changes)
        train_run(config, run_dir, resume_state=state)
    return 0
