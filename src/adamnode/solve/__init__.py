"""The solve: ``ODEBlock`` around torchdiffeq, its settings, step memory, statistics and errors."""

from .block import ODEBlock
from .errors import FailureKind, SolverError
from .memory import Direction, StepMemory
from .options import ADAPTIVE_METHODS, FIXED_STEP_METHODS, METHODS, SolverOptions
from .stats import SolveCounts, SolveStats

__all__ = [
    "ADAPTIVE_METHODS", "FIXED_STEP_METHODS", "METHODS", "Direction", "FailureKind", "ODEBlock", "SolveCounts",
    "SolveStats", "SolverError", "SolverOptions", "StepMemory",
]
