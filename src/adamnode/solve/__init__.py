"""The solve: ``ODEBlock`` around torchdiffeq, its statistics and its errors."""

from .block import ADAPTIVE_METHODS, FIXED_STEP_METHODS, ODEBlock
from .errors import SolverError
from .stats import SolveStats

__all__ = ["ADAPTIVE_METHODS", "FIXED_STEP_METHODS", "ODEBlock", "SolveStats", "SolverError"]
