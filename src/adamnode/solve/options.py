"""``SolverOptions``: every setting of a solve in one frozen, validated value.

The block, the harness's run config and the benchmarks all hold one of these; its checks run once,
when it is made, so a combination the block would refuse is refused wherever it is first written
down (the command line, a TOML file, a test). Messages name the keyword; the command line maps
keywords to its flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from ..models.scalars import finite_float
from .tableaux import TABLEAUX

ADAPTIVE_METHODS = tuple(name for name, tableau in TABLEAUX.items() if tableau.adaptive)
FIXED_STEP_METHODS = tuple(name for name, tableau in TABLEAUX.items() if not tableau.adaptive)
METHODS = ADAPTIVE_METHODS + FIXED_STEP_METHODS
GRADIENTS = ("checkpoint", "direct", "adjoint")
#: The range a tolerance must lie in: below it no floating-point solve can meet it (float64's
#: resolution is 2.2e-16 and the error estimate itself is rounded), above it the error control
#: accepts any step, however wrong.
TOLERANCE_RANGE = (1e-12, 1.0)


@dataclass(frozen=True)
class SolverOptions:
    """How an ``ODEBlock`` integrates.

    Args:
        method: a Runge-Kutta method of ``solve.tableaux`` (torchdiffeq's names); adaptive ones use
            ``rtol``/``atol``, fixed-step ones ``step_size``.
        rtol, atol: tolerances of the adaptive error control, each in ``TOLERANCE_RANGE``.
        step_size: the step of a fixed-step method (the last step is cut to land on ``t1``).
        gradient: how a solve is differentiated (``solve.gradients``): ``"checkpoint"`` (exact
            gradients of the discrete solve, replaying its accepted steps in the backward pass;
            memory: one state per ``checkpoint_every`` steps plus one segment's activations),
            ``"direct"`` (autograd through the steps; memory grows with steps x activations) or
            ``"adjoint"`` (torchdiffeq's continuous adjoint: memory independent of the steps,
            approximate gradients, a second adaptive solve backwards). Used only while grad is
            enabled.
        checkpoint_every: with ``gradient="checkpoint"``, the steps between kept states. ``None``
            (the default) chooses about ``sqrt(steps)`` as the solve goes, so the kept states and
            the one segment the backward pass rebuilds at a time both grow like ``sqrt(steps)``;
            1 keeps every step's state (memory linear in the steps, in states only, and the
            smallest segments: best where ``f``'s activations dwarf the state). Evaluations and
            gradients do not depend on it.
        seminorm: with ``gradient="adjoint"``, measure the adjoint's error on the state and its
            adjoint only, not on the parameter-gradient integral (Kidger et al., 2021), which is
            then not error-controlled. Usually, not always, fewer backward steps. Adaptive methods
            only.
        warm_start: in training mode, start each adaptive solve (forward and adjoint separately)
            from the first step the previous training solve accepted, instead of torchdiffeq's
            first-step guess. Off by default: it saves one evaluation per solve, and where the
            dynamics start fast (a trained AdamNODE) a remembered step that the error estimate
            wrongly accepts makes the answers far less accurate than the tolerance; see
            ``ODEBlock`` and docs/results/benchmarks/warm_accuracy.md.
        step_budget: steps allowed per solve and direction before ``SolverError`` (the harness's
            ``--step-budget``).
        check_finite: check ``z0`` and every result for NaN/Inf (one host sync per call each);
            ``False`` keeps a fixed-step solve free of host syncs (CUDA graphs).
        kinetic, jacobian: weights of RNODE's penalties (Finlay et al., 2020), integrated alongside
            the state in training-mode solves with grad enabled: the kinetic energy
            ``integral of mean_batch ||dz/dt||^2`` and the Jacobian's squared Frobenius norm
            ``integral of mean_batch ||eps^T d(dz/dt)/dz||^2`` (one Gaussian probe per sample and
            solve). ``ODEBlock.penalty`` holds their weighted sum, to be added to the loss.
        steer: STEER's half-width ``b`` (Ghosh et al., 2020): each training-mode solve ends at a time
            drawn uniformly from ``[t1 - b, t1 + b]``; ``b`` must be below ``t1 - t0``.
    """

    method: str = "dopri5"
    rtol: float = 1e-4
    atol: float = 1e-4
    step_size: float | None = None
    gradient: str = "checkpoint"
    checkpoint_every: int | None = None
    seminorm: bool = True
    warm_start: bool = False
    step_budget: int = 10_000
    check_finite: bool = True
    kinetic: float = 0.0
    jacobian: float = 0.0
    steer: float = 0.0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {list(METHODS)}")
        if self.gradient not in GRADIENTS:
            raise ValueError(f"unknown gradient {self.gradient!r}; choose one of {list(GRADIENTS)}")
        low, high = TOLERANCE_RANGE
        for name in ("rtol", "atol"):
            value = finite_float(getattr(self, name), name)
            if not low <= value <= high:
                raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got {value:g}: below it no floating-point "
                                 "solve can meet the tolerance, above it the error control accepts any step")
            object.__setattr__(self, name, value)
        for name in ("seminorm", "warm_start", "check_finite"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("kinetic", "jacobian", "steer"):
            value = finite_float(getattr(self, name), name)
            if value < 0:
                raise ValueError(f"{name} must be non-negative, got {value}")
            object.__setattr__(self, name, value)
        for name in ("step_budget", "checkpoint_every"):
            value = getattr(self, name)
            if value is None and name == "checkpoint_every":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.adaptive:
            if self.step_size is not None:
                raise ValueError(f"step_size is for fixed-step methods; {self.method} adapts its steps to rtol/atol")
        else:
            if self.step_size is None or not finite_float(self.step_size, "step_size") > 0:
                raise ValueError(f"fixed-step method {self.method!r} needs a positive step_size, e.g. step_size=0.125")
            object.__setattr__(self, "step_size", float(self.step_size))
            if self.seminorm and self.gradient == "adjoint":
                raise ValueError(f"seminorm applies to adaptive methods only; pass seminorm=False with {self.method!r}")

    @property
    def adaptive(self) -> bool:
        return self.method in ADAPTIVE_METHODS

    def fixed_step_count(self, t0: float, t1: float) -> int:
        """Steps of ``step_size`` from ``t0`` to ``t1``, computed without listing them."""
        return max(1, math.ceil((t1 - t0) / self.step_size - 1e-9))

    def check_interval(self, t0: float, t1: float) -> None:
        """``ValueError`` if a fixed-step solve over ``[t0, t1]`` needs more than ``step_budget`` steps.

        Arithmetic only, so a tiny step size is refused before anything is allocated.
        """
        if not self.adaptive and self.fixed_step_count(t0, t1) > self.step_budget:
            raise ValueError(f"step_size={self.step_size:g} needs {self.fixed_step_count(t0, t1):,} steps over "
                             f"[{t0:g}, {t1:g}], more than step_budget={self.step_budget}; raise step_size "
                             "or step_budget")

    @property
    def regularised(self) -> bool:
        """Whether training solves integrate a penalty (``kinetic`` or ``jacobian`` above 0)."""
        return self.kinetic > 0 or self.jacobian > 0

    def replace(self, **changes) -> "SolverOptions":
        """A copy with ``changes`` applied, validated again."""
        return replace(self, **changes)


OPTION_NAMES = tuple(f.name for f in fields(SolverOptions))
_generated_init = SolverOptions.__init__


def _init(self, *args, **changes):
    if "adjoint" in changes:
        raise ValueError("adjoint= is gone: say gradient='adjoint' (the continuous adjoint), 'checkpoint' or 'direct'")
    _generated_init(self, *args, **changes)


# A user who types the old keyword learns the new one instead of reading "unexpected keyword".
SolverOptions.__init__ = _init
