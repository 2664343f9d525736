"""The training options shared by ``adamnode train`` and ``adamnode compare``.

Every option defaults to "not given" (``argparse.SUPPRESS``) so that only explicit flags reach the
namespace: they are the top layer of the settings' precedence (see ``config.settings``).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from ..models.family import MODEL_NAMES
from ..solve.options import GRADIENTS, METHODS, SolverOptions
from ..store import CHECKPOINT_FILE, STEPS_FILE
from ..tasks import TASK_NAMES
from ..config import model_options
from ..errors import ConfigError
from ..config.settings import (CORE_KEYS, DEVICES, SOLVER_KEYS, TrainConfig, base_type, flag, load_config_file,
                               resolve_config)

_HELP = {
    "task": f"task name: {', '.join(TASK_NAMES)} (default spheres)",
    "model": f"model name: {', '.join(MODEL_NAMES)}",
    "preset": "a named group of the task's settings (adamnode info --task T lists them)",
    "epochs": "training epochs",
    "batch_size": "training batch size",
    "lr": "Adam learning rate",
    "seed": "seed of data, initialisation and batch order",
    "device": "where to train",
    "threads": "CPU threads torch may use (default: torch's choice; tasks with tiny tensors set 1)",
    "out": "output folder",
    "data_dir": "folder with the task's data files",
    "download": "download the task's official data files where missing (--no-download: fail instead)",
    "train_subset": "use a fixed subset of N training examples (the same for every model and seed)",
    "test_subset": "use a fixed subset of N test examples (the same for every model and seed)",
    "max_steps": "at most N training steps per epoch",
    "grad_clip": "clip the gradient norm to this value",
    "lr_decay": "multiply the learning rate by this factor every --lr-decay-every steps",
    "lr_decay_every": "steps between learning-rate decays",
    "log_every": f"every N training steps append a row (loss, NFE, seconds over those steps) to {STEPS_FILE}",
    "checkpoint_minutes": f"also write {CHECKPOINT_FILE} inside an epoch once this many minutes passed since the last "
                          "(a kill -9 loses at most that much training; changeable on --resume)",
    "model_options": "a constructor option of the vector field, e.g. beta1=0.5 or learn_betas=false (repeatable; "
                     "config file: a [model_options] table); in compare it applies to every model that takes it",
}
_METAVARS = {int: "N", float: "X", str: "NAME"}
#: The choices of the solver's text settings that argparse lists (a method SolverOptions refuses
#: itself, naming them).
_CHOICES = {"gradient": GRADIENTS}


def solver_help() -> dict[str, str]:
    """Each solver flag's help, from ``SolverOptions``' own documentation of its field (the first
    sentence of its entry under Args): the settings are described once, where they are defined."""
    args = SolverOptions.__doc__.split("Args:")[1]
    entries = re.findall(r"^ {8}([a-z_]+(?:, [a-z_]+)*): (.*?)(?=^ {8}[a-z_]+(?:, [a-z_]+)*: |\Z)", args,
                         re.S | re.M)
    described = {}
    for names, text in entries:
        first = re.split(r"(?<=[a-z)])\. ", " ".join(text.replace("``", "").split()))[0].rstrip(".")
        for name in names.split(", "):
            described[name] = first
    described["tol"] = "rtol = atol: " + described["rtol"]
    described["method"] += f" ({', '.join(METHODS)})"
    return {key: described[key].replace("%", "%%") for key in SOLVER_KEYS}


def add_training_options(parser: argparse.ArgumentParser, *, exclude: tuple[str, ...] = ()) -> None:
    group = parser.add_argument_group("training settings (also valid as keys of a --config file)")
    helps = {**_HELP, **solver_help()}
    for name in CORE_KEYS:
        if name in exclude:
            continue
        kind = base_type(name)
        if name == "model_options":
            add_model_option(group)
        elif kind is bool:
            group.add_argument(flag(name), action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=helps[name])
        elif name == "device":
            group.add_argument(flag(name), choices=DEVICES, default=argparse.SUPPRESS, help=helps[name])
        elif name in _CHOICES:
            group.add_argument(flag(name), choices=_CHOICES[name], default=argparse.SUPPRESS, help=helps[name])
        else:
            metavar = "DIR" if name in ("out", "data_dir") else _METAVARS[kind]
            # str options take the parser's own text type, which refuses empty values
            group.add_argument(flag(name), type=None if kind is str else kind, metavar=metavar,
                               default=argparse.SUPPRESS, help=helps[name])
    group.add_argument("--adjoint", "--no-adjoint", nargs=0, action=_Renamed, help=argparse.SUPPRESS)
    control = parser.add_argument_group("run control")
    control.add_argument("--config", metavar="FILE.toml", default=argparse.SUPPRESS,
                         help="TOML file with settings (below explicit options, above presets)")
    control.add_argument("--resume", metavar="DIR", default=argparse.SUPPRESS,
                         help="continue the run saved in DIR")
    control.add_argument("--overwrite", action="store_true", default=False,
                         help="replace an existing output folder")


class _Renamed(argparse.Action):
    """``--adjoint``/``--no-adjoint`` of 0.1.0: an error naming ``--gradient``."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is gone; use --gradient adjoint (the continuous adjoint), --gradient direct "
                     "or --gradient checkpoint")


def add_model_option(parser) -> None:
    """``--model-option KEY=VALUE`` on ``parser`` or one of its argument groups."""
    parser.add_argument(model_options.FLAG, dest="model_options", action="append", metavar="KEY=VALUE",
                        default=argparse.SUPPRESS, help=_HELP["model_options"])


def explicit_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line (run-control options excluded)."""
    settings = {key: value for key, value in vars(args).items() if key in CORE_KEYS}
    if "model_options" in settings:
        settings["model_options"] = model_options.parse_pairs(settings["model_options"])
    return settings


def config_from_args(args: argparse.Namespace, file_values: dict[str, Any] | None = None,
                     command_keys: tuple[str, ...] = ()) -> TrainConfig:
    if file_values is None:
        file_values = load_config_file(args.config) if getattr(args, "config", None) else {}
    return resolve_config(explicit_settings(args), file_values, command_keys)


def parse_names(given, valid: tuple[str, ...], what: str, option: str) -> list[str]:
    """The names ``given`` lists (a comma-separated string, or a list from a config file; all of ``valid``
    when None), each checked against ``valid``, in order; a name given twice is refused."""
    if given is None:
        return list(valid)
    listed = given if isinstance(given, list) else str(given).split(",")
    names = [str(name).strip().lower() for name in listed if str(name).strip()]
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        raise ConfigError(f"unknown {what}(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(valid)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{option} lists a {what} twice: {given}")
    return names
