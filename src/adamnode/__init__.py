"""adamnode: adaptive-moment and momentum neural ODEs as drop-in PyTorch layers.

The public names are imported on first use: ``adamnode --help`` then starts without torch, and a
Ctrl-C while the command starts up meets the command's own handler, not Python's import machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import (
        ANODE, GHBNODE, HBNODE, NODE, SONODE, AdamNODE, GNesterovNODE, NesterovNODE, VectorField, augment,
    )
    from .nets.sequence import ODERNN
    from .solve import FailureKind, ODEBlock, SolverError, SolverOptions, SolveStats

__version__ = "0.1.0"

_HOMES = {
    **dict.fromkeys(["ANODE", "AdamNODE", "GHBNODE", "GNesterovNODE", "HBNODE", "NODE", "NesterovNODE", "SONODE",
                     "VectorField", "augment"], "models"),
    "ODERNN": "nets.sequence",
    **dict.fromkeys(["FailureKind", "ODEBlock", "SolveStats", "SolverError", "SolverOptions"], "solve"),
}

__all__ = sorted(_HOMES) + ["__version__"]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'adamnode' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
