"""adamnode: adaptive-moment and momentum neural ODEs as drop-in PyTorch layers.

The public names, and the subpackages, are imported on first use: ``adamnode --help`` then starts
without torch, and a Ctrl-C while the command starts up meets the command's own handler, not
Python's import machinery.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from .models import (
        ANODE, GHBNODE, HBNODE, NODE, SONODE, AdamNODE, GNesterovNODE, NesterovNODE, VectorField, augment,
    )
    from .layer import NeuralODE
    from .nets.sequence import ODERNN
    from .solve import FailureKind, ODEBlock, SolverError, SolverOptions, SolveStats

__version__ = "0.2.0"

#: Where each public name is defined (the imports above, for type checkers, list the same names).
_HOMES = {
    **dict.fromkeys(["ANODE", "AdamNODE", "GHBNODE", "GNesterovNODE", "HBNODE", "NODE", "NesterovNODE", "SONODE",
                     "VectorField", "augment"], "models"),
    "NeuralODE": "layer",
    "ODERNN": "nets.sequence",
    **dict.fromkeys(["FailureKind", "ODEBlock", "SolveStats", "SolverError", "SolverOptions"], "solve"),
}

__all__ = sorted(_HOMES) + ["__version__"]


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(_importlib.import_module(f".{_HOMES[name]}", __name__), name)
    else:
        try:  # ``adamnode.solve`` after a plain ``import adamnode``, as an eager package allowed
            value = _importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise  # a subpackage that exists but lacks a dependency
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | {name for name in globals() if name.startswith("__")})
