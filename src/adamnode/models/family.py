"""The model family by name: what the harness, the CLI and the benchmarks iterate over."""

from __future__ import annotations

from .adam import AdamNODE
from .base import VectorField
from .first_order import ANODE, NODE
from .nesterov import GNesterovNODE, NesterovNODE
from .second_order import GHBNODE, HBNODE, SONODE

FIELDS: dict[str, type[VectorField]] = {
    "node": NODE,
    "anode": ANODE,
    "sonode": SONODE,
    "hbnode": HBNODE,
    "ghbnode": GHBNODE,
    "adamnode": AdamNODE,
    "nesterovnode": NesterovNODE,
    "gnesterovnode": GNesterovNODE,
}
MODEL_NAMES = tuple(FIELDS)


def check_model_name(name: str) -> str:
    """The canonical (lower-case) model name, or a ValueError listing the valid ones."""
    key = str(name).lower()
    if key not in FIELDS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    return key


def field_class(name: str) -> type[VectorField]:
    """The vector field class called ``name``: it answers the shape questions of model builders, and
    ``field_class(name)(f, **options)`` builds one around ``f``."""
    return FIELDS[check_model_name(name)]


def default_interval(name: str) -> tuple[float, float]:
    """A unit-length integration interval the model is defined on (Nesterov models need t0 > 0)."""
    return (1.0, 2.0) if field_class(name).needs_positive_time else (0.0, 1.0)


def options_for(name: str, options: dict) -> dict:
    """The part of ``options`` that the field called ``name`` takes as constructor options."""
    accepted = field_class(name).option_defaults()
    return {key: value for key, value in options.items() if key in accepted}


def augmentation(name: str, channels: int) -> dict[str, int]:
    """The constructor options that give ``name`` ``channels`` augmented channels, if it takes any."""
    return {"augment_dim": channels} if "augment_dim" in field_class(name).option_defaults() else {}
