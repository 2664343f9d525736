"""``adamnode train``: train one model on a task into a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import CheckpointError, ConfigError
from ..store import RUN_FILES, RunFolder
from ..training.run import default_run_folder, resume_run, train_run
from .options import add_training_options, config_from_args, explicit_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_options(parser)
    parser.epilog = f"Writes {', '.join(RUN_FILES)} into the output folder."


def run(args: argparse.Namespace) -> int:
    if getattr(args, "resume", None):
        return _resume(args)
    config = config_from_args(args)
    train_run(config, RunFolder(config.out) if config.out else default_run_folder(config), overwrite=args.overwrite)
    return 0


def _resume(args: argparse.Namespace) -> int:
    folder = RunFolder(args.resume)
    if getattr(args, "config", None) or args.overwrite:
        raise ConfigError("--resume continues a run with its saved settings; drop --config and --overwrite")
    changes = explicit_settings(args)
    out = changes.pop("out", None)
    if out is not None and Path(out) != folder.path:
        raise ConfigError(f"--out {out} differs from --resume {folder.path}; a resumed run stays in its folder")
    if not folder.path.is_dir():
        raise CheckpointError(f"no checkpoint at {folder.checkpoint}; point --resume at a run folder "
                              "written by adamnode train")
    resume_run(folder, changes)
    return 0
