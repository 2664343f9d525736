"""The solver's failure, reported with what a user needs to fix it."""

from __future__ import annotations

REMEDIES = (
    "loosen rtol/atol, lower the learning rate or clip gradients, check the data for outliers, "
    "or raise max_steps"
)


class SolverError(RuntimeError):
    """An ODE solve could not finish.

    Attributes: ``reason`` (short text), ``t`` (time reached), ``dt`` (last step size),
    ``nfe`` (vector-field evaluations so far in this solve), ``phase`` ("forward" or "backward"),
    ``warm_started`` (the solve began from a remembered step size, see ``ODEBlock(warm_start=...)``;
    the block has forgotten it, so a retry starts from torchdiffeq's cautious guess).
    """

    def __init__(self, reason: str, *, t: float, dt: float, nfe: int, phase: str, method: str,
                 warm_started: bool = False):
        self.reason, self.t, self.dt, self.nfe, self.phase, self.method = reason, t, dt, nfe, phase, method
        self.warm_started = warm_started
        warm = " (warm-started; the next solve starts cold)" if warm_started else ""
        super().__init__(
            f"{method} {phase} solve failed{warm}: {reason} at t={t:.6g} (step size {dt:.3g}, "
            f"{nfe} evaluations so far); remedies: {REMEDIES}"
        )
