"""``adamnode info``: a task's settings, presets and models with their parameter counts."""

from __future__ import annotations

import argparse

from ..models.family import FIELDS, default_interval
from ..tasks import TASK_NAMES, get_task
from ..config.settings import load_config_file, resolve_config
from ..models.family import options_for
from ..config.model_options import describe
from .options import add_model_option, explicit_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default=argparse.SUPPRESS, help=f"task name: {', '.join(TASK_NAMES)} (default spheres)")
    parser.add_argument("--preset", default=argparse.SUPPRESS, help="show the models as this preset builds them")
    parser.add_argument("--config", metavar="FILE.toml", default=argparse.SUPPRESS,
                        help="show the models as this config file builds them")
    add_model_option(parser)


def run(args: argparse.Namespace) -> int:
    file_values = load_config_file(args.config) if getattr(args, "config", None) else {}
    config = resolve_config(explicit_settings(args), file_values)
    task, settings = get_task(config.task), config.settings()
    print(f"task {task.name}: {task.description}")
    print(f"metric: {task.metric} ({'higher' if task.metric_goal == 'max' else 'lower'} is better)")
    print(f"presets: {', '.join(task.presets) or 'none'}")
    shown = {key: value for key, value in settings.items()
             if value is not None and key not in ("task", "model", "model_options")}
    print("settings: " + ", ".join(f"{key}={value}" for key, value in shown.items()))
    print()
    rows = [(name, f"{task.parameter_count(name, settings):,}", ", ".join(FIELDS[name].components),
             "[{:g}, {:g}]".format(*default_interval(name)), describe(options_for(name, config.model_options)))
            for name in task.models]
    header = ("model", "parameters", "state", "interval", "model options")
    if not config.model_options:
        rows, header = [row[:-1] for row in rows], header[:-1]
    widths = [max(len(row[index]) for row in (header, *rows)) for index in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) if index != 1 else cell.rjust(width)
                        for index, (cell, width) in enumerate(zip(row, widths))).rstrip())
    return 0
