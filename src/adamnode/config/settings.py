"""The settings of one training run: a typed dataclass, its layers of precedence and its checks.

Precedence, lowest first: the dataclass defaults < ``task.defaults`` < the task's preset < the
TOML config file < options given explicitly on the command line. Tasks may declare settings of
their own (``task.defaults`` keys that are not fields here, e.g. the spheres' ``dim``); those are
set from presets and config files and travel in ``task_options``. ``model_options`` (the vector
field's constructor options) merge key by key across the layers, so a flag overrides one key of
a config file's ``[model_options]`` table and keeps the others.
"""

from __future__ import annotations

import sys
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..solve import SolverOptions
from ..tasks import DEFAULT_TASK, Task, get_task
from . import model_options as field_options
from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DEVICES = ("auto", "cpu", "cuda")
#: numpy's seeds are 32-bit.
MAX_SEED = 2**32 - 1
#: Training runs in float32: a larger setting (``--lr 1e300``) would overflow inside torch.
FLOAT32_MAX = 3.4028234663852886e38
#: ``SolverOptions``' fields a run's settings leave out: the tolerances are one setting, ``tol``
#: (rtol = atol), and training always checks for NaN/Inf.
_SOLVER_FIXED = ("rtol", "atol", "check_finite")


def _solver_types() -> dict[str, Any]:
    """The solver's settings as flags and file keys, derived from ``SolverOptions``' fields:
    ``tol`` where ``rtol`` stands, the others by their own name and type."""
    hints = typing.get_type_hints(SolverOptions)
    return {("tol" if item.name == "rtol" else item.name): hints[item.name] for item in fields(SolverOptions)
            if item.name == "rtol" or item.name not in _SOLVER_FIXED}


#: name -> type of every solver setting, in ``SolverOptions``' order.
SOLVER_TYPES = _solver_types()
SOLVER_KEYS = tuple(SOLVER_TYPES)


def solver_settings(solver: SolverOptions) -> dict[str, Any]:
    """``solver`` as flat settings (``tol`` for rtol = atol)."""
    return {key: solver.rtol if key == "tol" else getattr(solver, key) for key in SOLVER_KEYS}


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run; ``settings()`` is the flat dict tasks receive and run folders keep.

    ``solver`` is the ``SolverOptions`` tasks build their blocks with, validated once. Flags, file
    keys and ``settings()`` spell it flat (``SOLVER_KEYS``: ``SolverOptions``' fields, with one
    ``tol`` for rtol and atol). The built-in ``tol`` is ``SolverOptions``' 1e-4; every task states
    its own (``adamnode info``).
    """

    task: str = DEFAULT_TASK
    model: str | None = None
    preset: str | None = None
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    solver: SolverOptions = field(default_factory=SolverOptions)
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    out: str | None = None
    data_dir: str | None = None
    download: bool = True
    train_subset: int | None = None
    test_subset: int | None = None
    max_steps: int | None = None
    grad_clip: float | None = None
    lr_decay: float = 1.0
    lr_decay_every: int | None = None
    log_every: int | None = None
    checkpoint_minutes: float = 10.0
    model_options: dict = field(default_factory=dict)
    task_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for name, kind in _OWN_TYPES.items():
            object.__setattr__(self, name, _coerce(name, getattr(self, name), kind))
        if self.model_options:
            object.__setattr__(self, "model_options", field_options.resolve(self.model_options, self._option_models()))
        _check_ranges(self)
        if not isinstance(self.solver, SolverOptions):
            raise ConfigError(f"solver must be a SolverOptions, got {self.solver!r}")
        if self.solver.rtol != self.solver.atol or not self.solver.check_finite:
            raise ConfigError("a run takes one tolerance, tol (rtol = atol), and checks for NaN/Inf "
                              f"(check_finite=True); got {self.solver}")

    def _option_models(self) -> tuple[str, ...]:
        """The models the options must fit: the run's, or any of the task's when none is set yet."""
        try:
            models = get_task(self.task).models
        except ValueError as error:
            raise ConfigError(str(error)) from None
        return (self.model,) if self.model in models else models

    def settings(self) -> dict[str, Any]:
        """All settings, task-specific ones included, as one flat dict."""
        flat = {name: getattr(self, name) for name in _OWN_TYPES}
        flat.update(solver_settings(self.solver))
        flat = {name: flat[name] for name in _FIELD_TYPES}
        flat["model_options"] = dict(self.model_options)
        flat.update(self.task_options)
        return flat

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with ``changes`` applied (task-specific keys allowed), validated again."""
        values = self.settings()
        values.update(changes)
        return _build(values, set(self.task_options))


#: The config's own settings (the solver's excluded), and every flat setting, in flag order.
_OWN_TYPES = {f.name: t for f, t in zip(fields(TrainConfig), typing.get_type_hints(TrainConfig).values())
              if f.name not in ("task_options", "solver")}
_FIELD_TYPES = {name: kind for f, t in zip(fields(TrainConfig), typing.get_type_hints(TrainConfig).values())
                if f.name != "task_options"
                for name, kind in (SOLVER_TYPES.items() if f.name == "solver" else [(f.name, t)])}
CORE_KEYS = tuple(_FIELD_TYPES)


def base_type(name: str) -> type:
    """The type of setting ``name`` without its ``None`` option (``int | None`` -> ``int``)."""
    return _unpack(_FIELD_TYPES[name])[0]


def _unpack(kind: Any) -> tuple[type, bool]:
    """(the type, whether ``None`` is allowed) of an annotation such as ``int | None``."""
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    return next(option for option in options if option is not type(None)), type(None) in options


def flag(name: str) -> str:
    """How messages name a setting: its option (``--batch-size``) or, task-specific, its file key."""
    if name == "model_options":
        return field_options.FLAG
    return "--" + name.replace("_", "-") if name in _FIELD_TYPES else f"task setting {name!r}"


def valid_keys(task: Task) -> list[str]:
    return sorted(set(CORE_KEYS) | set(task.defaults))


def load_config_file(path: str | Path) -> dict[str, Any]:
    """The settings in a TOML file, keys normalised to ``snake_case``."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            raw = tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; check the path given to --config") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"config file {path} is not valid TOML ({one_line(error)}); fix the file") from None
    values: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name == "adjoint":
            raise ConfigError(f"config file {path}: the key adjoint is gone; write gradient = \"adjoint\" (or "
                              "\"checkpoint\", \"direct\") instead")
        if name in values:
            raise ConfigError(f"config file {path} sets {name} twice (as {spelled[name]!r} and {key!r}); keep one")
        if name in _FIELD_TYPES:
            try:
                value = _coerce(name, value, _FIELD_TYPES[name])
            except ConfigError as error:
                raise ConfigError(f"config file {path}: {error}; fix the file") from None
        values[name], spelled[name] = value, str(key)
    return values


def resolve_config(cli: dict[str, Any], file_values: dict[str, Any] | None = None,
                   command_keys: tuple[str, ...] = ()) -> TrainConfig:
    """Merge the layers into one validated ``TrainConfig``.

    ``cli`` holds only the options given explicitly; ``file_values`` the config file's content.
    ``command_keys`` are further file keys the calling command reads itself (compare's ``models``);
    they are accepted here and left out of the config.
    """
    file_values = {key: value for key, value in (file_values or {}).items() if key not in command_keys}
    task_name = cli.get("task") or file_values.get("task") or DEFAULT_TASK
    try:
        task = get_task(task_name)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    allowed = sorted(valid_keys(task) + list(command_keys))
    unknown = sorted(set(file_values) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} in the config file; valid keys for task "
                          f"{task.name!r}: {', '.join(allowed)}")
    preset_name = cli.get("preset") or file_values.get("preset")
    merged: dict[str, Any] = _DEFAULTS.settings()
    merged.update(task.defaults)
    merged.update(preset_settings(task, preset_name))
    merged.update(file_values)
    merged.update(cli)
    layers = (task.defaults, preset_settings(task, preset_name), file_values, cli)
    if all(isinstance(layer.get("model_options", {}), dict) for layer in layers):
        merged["model_options"] = {key: value for layer in layers for key, value in layer.get("model_options", {}).items()}
    merged["task"] = task.name
    task_keys = set(task.defaults) - set(CORE_KEYS)
    for key in task_keys:
        merged[key] = _coerce(key, merged[key], type(task.defaults[key]))
    config = _build(merged, task_keys)
    check_model(task, config.model)
    return config


def preset_settings(task: Task, preset: str | None) -> dict[str, Any]:
    if preset is None:
        return {}
    if preset not in task.presets:
        choices = ", ".join(task.presets) or "none"
        raise ConfigError(f"unknown preset {preset!r} for task {task.name!r}; choose from: {choices}")
    return task.presets[preset]


def check_model(task: Task, model: str | None) -> None:
    if model is not None and model not in task.models:
        raise ConfigError(f"unknown model {model!r} for task {task.name!r}; choose from {', '.join(task.models)}")


def _build(values: dict[str, Any], task_keys: set[str]) -> TrainConfig:
    core = {key: value for key, value in values.items() if key in _OWN_TYPES}
    task_options = {key: values[key] for key in sorted(task_keys)}
    return TrainConfig(**core, solver=_solver(values), task_options=task_options)


def _solver(values: dict[str, Any]) -> SolverOptions:
    """The ``SolverOptions`` of flat ``values`` (defaults where a key is missing), each value's type
    checked as a flag's; ``ConfigError`` with ``SolverOptions``' own message if it refuses them."""
    given = {key: _coerce(key, values[key], SOLVER_TYPES[key]) for key in SOLVER_KEYS if key in values}
    if "tol" in given:
        tol = given.pop("tol")
        given.update(rtol=tol, atol=tol)
    try:
        return replace(_SOLVER_DEFAULTS, **given)
    except ValueError as error:
        raise ConfigError(str(error)) from None


_SOLVER_DEFAULTS = SolverOptions()


def _coerce(name: str, value: Any, kind: Any) -> Any:
    base, optional = _unpack(kind)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{flag(name)} needs a value")
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= FLOAT32_MAX:
            return float(value)
    elif base is dict:
        if isinstance(value, dict):
            return dict(value)
    elif isinstance(value, str) and value.strip():
        return value
    raise ConfigError(f"{flag(name)} must be {_TYPE_WORDS[base]}, got {value!r}")


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a finite number within float32's range",
               str: "a non-empty string", dict: "a table of KEY = VALUE"}
# The solver settings (tol, step_size, step_budget) are checked once, by SolverOptions.
_POSITIVE = ("epochs", "batch_size", "lr", "threads", "train_subset", "test_subset", "max_steps", "grad_clip",
             "lr_decay_every", "log_every", "checkpoint_minutes")


def check_seed(seed: int) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed must be an integer from 0 to {MAX_SEED}, got {seed}")


def _check_ranges(config: TrainConfig) -> None:
    for name in _POSITIVE:
        value = getattr(config, name)
        if value is not None and not value > 0:
            raise ConfigError(f"{flag(name)} must be positive, got {value}")
    check_seed(config.seed)
    if config.device not in DEVICES:
        raise ConfigError(f"unknown device {config.device!r}; choose from {', '.join(DEVICES)}")
    if not 0 < config.lr_decay <= 1:
        raise ConfigError(f"--lr-decay must lie in (0, 1], got {config.lr_decay}")
    if config.lr_decay < 1 and config.lr_decay_every is None:
        raise ConfigError("--lr-decay needs --lr-decay-every STEPS (how often to multiply the rate)")


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def config_from_settings(settings: dict[str, Any]) -> TrainConfig:
    """Rebuild the config of a run from its saved flat settings (``TrainConfig.settings()``).

    A key that is neither a core setting nor one of its task's is refused: read as a task option it
    would be carried along while its setting silently took the default.
    """
    try:
        task = get_task(settings.get("task", DEFAULT_TASK))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if "adjoint" in settings and "gradient" not in settings:
        # Runs written by 0.1.0 recorded the gradient path as a flag.
        settings = {**settings, "gradient": "adjoint" if settings["adjoint"] else "direct"}
        settings.pop("adjoint")
    unknown = sorted(set(settings) - set(CORE_KEYS) - set(task.defaults))
    if unknown:
        raise ConfigError(f"the saved settings hold {', '.join(unknown)}, which this version of adamnode does not "
                          "know (written by another version); train the run again into a new folder")
    return _build(settings, set(settings) - set(CORE_KEYS))


_DEFAULTS = TrainConfig()
