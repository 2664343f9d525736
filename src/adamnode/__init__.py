"""adamnode: adaptive-moment and momentum neural ODEs as drop-in PyTorch layers."""

from .models import (
    ANODE, GHBNODE, HBNODE, NODE, SONODE, AdamNODE, GNesterovNODE, NesterovNODE, VectorField, augment,
)
from .nets.sequence import ODERNN
from .solve import FailureKind, ODEBlock, SolverError, SolverOptions, SolveStats

__version__ = "0.1.0"

__all__ = [
    "ANODE", "AdamNODE", "FailureKind", "GHBNODE", "GNesterovNODE", "HBNODE", "NODE", "NesterovNODE",
    "ODEBlock", "ODERNN", "SONODE", "SolveStats", "SolverError", "SolverOptions", "VectorField", "augment", "__version__",
]
