"""The solver's failure, reported with what a user needs to fix it."""

from __future__ import annotations

REMEDIES = (
    "loosen rtol/atol, lower the learning rate or clip gradients, check the data for outliers, "
    "or raise max_steps"
)


class SolverError(RuntimeError):
    """An ODE solve could not finish.

    Attributes: ``reason`` (short text), ``t`` (time reached), ``dt`` (last step size),
    ``nfe`` (vector-field evaluations so far in this solve), ``phase`` ("forward" or "backward").
    """

    def __init__(self, reason: str, *, t: float, dt: float, nfe: int, phase: str, method: str):
        self.reason, self.t, self.dt, self.nfe, self.phase, self.method = reason, t, dt, nfe, phase, method
        super().__init__(
            f"{method} {phase} solve failed: {reason} at t={t:.6g} (step size {dt:.3g}, "
            f"{nfe} evaluations so far); remedies: {REMEDIES}"
        )
