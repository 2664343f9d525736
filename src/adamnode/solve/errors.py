"""The solver's failure: what kind it is, where it happened, and what a user can change."""

from __future__ import annotations

import enum


class FailureKind(enum.Enum):
    """Why a solve could not finish. Retries and messages are decided by kind, never by text."""

    STEP_BUDGET = "step_budget"
    NON_FINITE_FIELD = "non_finite_field"
    NON_FINITE_SOLUTION = "non_finite_solution"
    NON_FINITE_ADJOINT = "non_finite_adjoint"
    STEP_UNDERFLOW = "step_underflow"
    #: torchdiffeq stopped on an assertion of its own that none of the kinds above explains.
    SOLVER_STOPPED = "solver_stopped"


#: What a user can change, per kind, in the library's words: ``SolverOptions`` keywords and the
#: training concepts (learning rate, gradient clipping). The command line adds its flags
#: (``adamnode.cli.flags``); the library never names one.
REMEDIES = {
    FailureKind.STEP_BUDGET: "raise step_budget or loosen rtol/atol; if the steps keep shrinking, the dynamics "
                             "are stiff: lower the learning rate or clip gradients",
    FailureKind.NON_FINITE_FIELD: "the vector field returned NaN or Inf: lower the learning rate, clip gradients "
                                  "or check the data for outliers",
    FailureKind.NON_FINITE_SOLUTION: "the state overflowed: loosen rtol/atol only if the dynamics are tame; "
                                     "otherwise lower the learning rate or clip gradients",
    FailureKind.NON_FINITE_ADJOINT: "the gradients overflowed: lower the learning rate, clip gradients, or check "
                                    "the loss for NaN",
    FailureKind.STEP_UNDERFLOW: "the dynamics are too stiff for this tolerance: loosen rtol/atol, lower the "
                                "learning rate or clip gradients",
    FailureKind.SOLVER_STOPPED: "loosen rtol/atol, lower the learning rate or clip gradients, or raise step_budget",
}


class SolverError(RuntimeError):
    """An ODE solve could not finish.

    Attributes: ``kind`` (a ``FailureKind``), ``reason`` (short text), ``t`` (time reached), ``dt``
    (last step size), ``nfe`` (vector-field evaluations so far in this solve), ``phase``
    ("forward" or "backward"), ``method``, ``warm_started`` (the solve began from a remembered step
    size, and the block could not redo it from torchdiffeq's cautious guess: it ran out of steps,
    or the retry failed too). Pickles with every field (``torch.distributed`` exchanges it between
    ranks).
    """

    def __init__(self, kind: FailureKind, reason: str, *, t: float, dt: float, nfe: int, phase: str, method: str,
                 warm_started: bool = False):
        self.kind, self.reason = FailureKind(kind), reason
        self.t, self.dt, self.nfe = float(t), float(dt), int(nfe)
        self.phase, self.method, self.warm_started = phase, method, bool(warm_started)
        warm = " (warm-started)" if warm_started else ""
        super().__init__(
            f"{method} {phase} solve failed{warm}: {reason} at t={t:.6g} (step size {dt:.3g}, {nfe} evaluations "
            f"so far); remedies: {REMEDIES[self.kind]}"
        )

    def fields(self) -> dict:
        """Every field, as keyword arguments that rebuild this error."""
        return dict(kind=self.kind, reason=self.reason, t=self.t, dt=self.dt, nfe=self.nfe, phase=self.phase,
                    method=self.method, warm_started=self.warm_started)

    def __reduce__(self):
        return _rebuild, (type(self), self.fields())

    def with_reason(self, reason: str) -> "SolverError":
        """The same failure with another reason text (e.g. naming the rank it happened on)."""
        return _rebuild(type(self), {**self.fields(), "reason": reason})


def _rebuild(cls: type, fields: dict) -> SolverError:
    fields = dict(fields)
    return cls(fields.pop("kind"), fields.pop("reason"), **fields)
