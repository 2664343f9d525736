"""A work-precision study's settings: typed, checked when made, saved in its record.

One frozen value holds them from the command line to the record (``precision.json``'s
``arguments``) and back on ``--resume``; the command's flags, their help and the command line that
measures the study again are all derived from its fields.
"""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ...config.settings import check_seed
from ...errors import ConfigError
from .measure import CHECK_TOL, OPTIONAL_PATHS, PATHS, REFERENCE_TOL


def _setting(default: Any, help: str, metavar: str | None = None, flag: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "metavar": metavar, "flag": flag})


@dataclass(frozen=True)
class StudySettings:
    """What a study measures (models x paths x tolerances), on which weights and batches, against which
    float64 reference. ``None`` means: the task's setting, or that of the run given as ``source``."""

    task: str | None = _setting(None, "task (default spheres, or the task of --from)")
    models: str | None = _setting(None, "models (default: every model of the task, or of --from)", "A,B,...")
    tols: str = _setting("1e-2,1e-3,1e-4,1e-5", "tolerances (rtol = atol) of the adaptive paths", "X,Y,...")
    paths: str = _setting("default,warm,direct,fixed,reference",
                          f"solver paths: {', '.join(PATHS)}, and where torchdyn imports {', '.join(OPTIONAL_PATHS)}",
                          "P,Q,...")
    fixed_steps: str = _setting("1,2,4,8", "rk4 step counts of the fixed path", "N,M,...")
    batches: int = _setting(2, "fixed batches", "K")
    batch_size: int | None = _setting(None, "batch size (default: the task's)", "B")
    repeats: int = _setting(1, "timed passes over the batches", "R")
    seed: int = _setting(0, "seed of the batches, initialisation and pretraining")
    device: str = _setting("auto", "device: auto, cpu or cuda")
    threads: int | None = _setting(None, "CPU threads (default: the task's setting)", "N")
    data_dir: str | None = _setting(None, "folder with the task's data files", "DIR")
    source: str | None = _setting(None, "a run or compare folder of the same task: measure its trained weights",
                                  "RUN_DIR", flag="--from")
    pretrain_steps: int = _setting(24, "without --from: train this many steps of the default training first", "N")
    reference_tol: float = _setting(REFERENCE_TOL, "tolerance of the float64 reference", "X")
    check_tol: float = _setting(CHECK_TOL, "tighter tolerance whose solve estimates the reference's own error", "X")
    reference_adjoint: bool = _setting(
        False, "backprop the reference by the adjoint (no seminorm) instead of directly: memory that does not grow "
               "with its steps, for networks whose tight direct solve does not fit; far slower on ReLU fields")

    def __post_init__(self):
        hints = typing.get_type_hints(StudySettings)
        for item in fields(self):
            value, allowed = getattr(self, item.name), _types(hints[item.name])
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                raise ConfigError(f"{flag(item.name)} must be {' or '.join(_NAMES[kind] for kind in allowed)}, "
                                  f"got {value!r}")
        for name in ("batches", "repeats", "reference_tol", "check_tol", "threads"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{flag(name)} must be a positive number, got {value}")
        check_seed(self.seed)
        if self.pretrain_steps < 0 or (self.batch_size is not None and self.batch_size < 1):
            raise ConfigError("--pretrain-steps must be at least 0 and --batch-size at least 1")
        if not self.check_tol < self.reference_tol:
            raise ConfigError(f"--check-tol ({self.check_tol:g}) must be tighter than --reference-tol "
                              f"({self.reference_tol:g})")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"--device must be auto, cpu or cuda, got {self.device!r}")
        for option, given, kind in (("--tols", self.tols, float), ("--fixed-steps", self.fixed_steps, int)):
            _positive_list(given, kind, option)  # a bad list is refused before the study does any work

    @classmethod
    def from_record(cls, arguments: dict) -> "StudySettings":
        """The settings a study saved; ``ConfigError`` naming what is not one of them."""
        unknown = sorted(set(arguments) - {item.name for item in fields(cls)})
        if unknown:
            raise ConfigError(f"the saved study names {', '.join(unknown)}, which are not study settings")
        return cls(**arguments)

    @property
    def tolerances(self) -> list[float]:
        return _positive_list(self.tols, float, "--tols")

    @property
    def step_counts(self) -> list[int]:
        return _positive_list(self.fixed_steps, int, "--fixed-steps")

    def record(self) -> dict:
        return asdict(self)

    def command(self) -> str:
        """The command that measures the study again, less where this machine keeps its data and
        which device it used."""
        words = ["adamnode precision"]
        left_out = ("device", "data_dir", "pretrain_steps" if self.source else "source")
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in left_out or value is None or value is False:
                continue
            words.append(flag(item.name) if value is True else f"{flag(item.name)} {value:g}"
                         if isinstance(value, float) else f"{flag(item.name)} {value}")
        return " ".join(words)


def flag(name: str) -> str:
    """The command-line flag of the setting ``name``."""
    chosen = next((item.metadata["flag"] for item in fields(StudySettings) if item.name == name), None)
    return chosen or f"--{name.replace('_', '-')}"


_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", type(None): "unset"}


def _types(hint) -> tuple[type, ...]:
    """The classes a field's annotation allows; a float field takes an int too."""
    kinds = tuple(typing.get_args(hint)) if typing.get_args(hint) else (hint,)
    return kinds + ((int,) if float in kinds else ())


def _positive_list(given: str, kind: type, option: str) -> list:
    try:
        values = [kind(value) for value in given.split(",") if value.strip()]
    except ValueError:
        raise ConfigError(f"{option} must be a comma-separated list of positive numbers, got {given!r}") from None
    if not values or any(not (math.isfinite(value) and value > 0) for value in values):
        raise ConfigError(f"{option} must be positive numbers, got {given!r}")
    return sorted(set(values))
