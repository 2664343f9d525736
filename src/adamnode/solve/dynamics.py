"""What a solver integrates: the field, plus counting, warm-start recording and diagnosis.

The solver core (``solve.stepping``) reports to ``on_step``/``on_accept``/``on_reject``; torchdiffeq
(the adjoint's path) to its ``callback_*`` hooks, which call the same methods.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..models.base import VectorField
from .errors import FailureKind, SolverError
from .memory import Direction, StepMemory
from .stats import Counter, SolveStats

_NFE = (Counter.NFE_FORWARD, Counter.NFE_BACKWARD)
_STEPS = (Counter.STEPS_FORWARD, Counter.STEPS_BACKWARD)
_REJECTED = (Counter.REJECTED_FORWARD, Counter.REJECTED_BACKWARD)


class Dynamics:
    """``(t, z) -> dz/dt`` for one solve (one attempt of it), with the solvers' step reports.

    Not an ``nn.Module`` so the field's parameters are registered once (under ``ODEBlock.field``);
    the adjoint receives them explicitly. One is made per attempt from the block's current field,
    so replicas (``nn.DataParallel``) each integrate their own copy.

    ``record`` (per direction): write the size of this solve's first accepted step into ``memory``
    for the next solve's warm start. ``warm`` (per direction): this solve began from a
    remembered size, which its failures report.
    """

    def __init__(self, field: VectorField, stats: SolveStats, method: str, step_budget: int, adaptive: bool,
                 args: Any = None, memory: StepMemory | None = None, record: tuple[bool, bool] = (False, False),
                 warm: tuple[bool, bool] = (False, False)):
        self.field, self.stats, self.method = field, stats, method
        self.step_budget, self.adaptive = step_budget, adaptive
        self.args, self.memory, self.record, self.warm = args, memory, record, warm
        self.direction = Direction.FORWARD
        # The parameters the forward solve used. A backward pass (the checkpoint's replay, the
        # adjoint's solve) runs after the call returned: under ``torch.func.functional_call`` the
        # module has its own tensors back by then, and must be evaluated with these instead.
        self._bound = dict(field.named_parameters())
        self._rebind: bool | None = None
        self.last_t = self.last_dt = self.last_eval_t = math.nan
        self.last_dz: torch.Tensor | None = None
        # Steps of this attempt per direction: a redone solve gets its own step budget.
        self.steps = [0, 0]
        self.accepted = [0, 0]
        # Set when the user's field raised: such an exception is theirs and must reach them as it is.
        self.field_raised = False
        # Under torchdiffeq, the derivatives of the current step, checked for finiteness once when it
        # is accepted (one check per step rather than per evaluation). The core checks its error
        # ratio instead and leaves this off.
        self.collect_derivatives = False
        self.step_derivatives: list[torch.Tensor] = []
        if adaptive:
            # Set only here: torchdiffeq warns about callbacks a solver does not support.
            self.callback_accept_step = lambda t0, y0, dt: self.on_accept(Direction.FORWARD, dt)
            self.callback_accept_step_adjoint = lambda t0, y0, dt: self.on_accept(Direction.BACKWARD, dt)
            self.callback_reject_step = lambda t0, y0, dt: self.on_reject(Direction.FORWARD)
            self.callback_reject_step_adjoint = lambda t0, y0, dt: self.on_reject(Direction.BACKWARD)

    def __call__(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.stats.add(_NFE[self.direction.value])
        inputs = (t, z) if self.args is None else (t, z, self.args)
        try:
            if self.direction is Direction.BACKWARD and self._rebound():
                dz = torch.func.functional_call(self.field, self._bound, inputs)
            else:
                dz = self.field(*inputs)
        except BaseException:
            self.field_raised = True
            raise
        # Detached: in the adjoint's backward torchdiffeq keeps each evaluation's graph alive while
        # the result is referenced, and a step's worth of graphs must not outlive their use.
        self.last_eval_t, self.last_dz = t, dz.detach()
        if self.collect_derivatives:
            self.step_derivatives.append(self.last_dz)
        return dz

    def _rebound(self) -> bool:
        """Whether the field's parameters changed since the forward solve (checked once)."""
        if self._rebind is None:
            current = dict(self.field.named_parameters())
            self._rebind = any(current.get(name) is not p for name, p in self._bound.items())
        return self._rebind

    def callback_step(self, t0: torch.Tensor, y0, dt: torch.Tensor) -> None:
        self.on_step(Direction.FORWARD, t0, dt)

    def callback_step_adjoint(self, t0: torch.Tensor, y0, dt: torch.Tensor) -> None:
        self.on_step(Direction.BACKWARD, t0, dt)
        # In the forward pass torchdiffeq's own assertion is caught by ODEBlock; here it would
        # escape from loss.backward() as a bare AssertionError, so check first.
        if self.adaptive and not all(bool(torch.isfinite(part).all()) for part in _parts(y0)):
            raise self.failure(FailureKind.NON_FINITE_ADJOINT, "the adjoint state became NaN or Inf "
                               "(non-finite gradients)", Direction.BACKWARD)

    def on_step(self, direction: Direction, t0: torch.Tensor | float, dt: torch.Tensor | float) -> None:
        self.stats.add(_STEPS[direction.value])
        self.steps[direction.value] += 1
        self.step_derivatives = []
        self.last_t, self.last_dt = t0, dt
        if self.steps[direction.value] > self.step_budget:
            raise self.failure(FailureKind.STEP_BUDGET, f"more than step_budget={self.step_budget} steps", direction)
        # torchdiffeq would stop here with a bare AssertionError; raise ours with the diagnosis.
        if self.adaptive and bool(t0 + dt == t0):
            if bool(dt == 0):
                # torchdiffeq replaces a NaN/Inf step size by 0: the error estimate itself was non-finite.
                kind = (FailureKind.NON_FINITE_ADJOINT if direction is Direction.BACKWARD
                        else FailureKind.NON_FINITE_SOLUTION)
                raise self.failure(kind, "NaN or Inf in a trial step", direction)
            raise self.failure(FailureKind.STEP_UNDERFLOW, "step size underflow", direction)

    def on_replay(self) -> None:
        """A step replayed by the checkpointed backward pass (counted as a backward step)."""
        self.stats.add(Counter.STEPS_BACKWARD)

    def on_reject(self, direction: Direction) -> None:
        self.stats.add(_REJECTED[direction.value])

    def on_accept(self, direction: Direction, dt: torch.Tensor | float) -> None:
        # A trial step that overflows to Inf makes torchdiffeq's error scale Inf and its error
        # ratio 0, so it would be accepted and pass NaN on (seen with an oversized first step).
        if self.step_derivatives and not _all_finite(self.step_derivatives):
            raise self.failure(FailureKind.NON_FINITE_FIELD, "non-finite derivative in an accepted step", direction)
        self.accepted[direction.value] += 1
        if self.record[direction.value] and self.accepted[direction.value] == 1:
            # The first accepted step, not the controller's larger proposal after it: remembering
            # proposals ratchets the start up by up to 10x per solve, past where dopri5's error
            # estimate means anything (docs/results/benchmarks/warm_accuracy.md).
            self.memory.record(direction, dt)

    def failure(self, kind: FailureKind, reason: str, direction: Direction) -> SolverError:
        t = self.last_t
        if self.last_dz is not None and not _all_finite([self.last_dz]):
            kind, t = FailureKind.NON_FINITE_FIELD, self.last_eval_t
            reason = "non-finite derivative (the vector field returned NaN or Inf)"
        return SolverError(kind, reason, t=_as_float(t), dt=_as_float(self.last_dt),
                           nfe=self.stats.current(_NFE[direction.value]), phase=direction.phase, method=self.method,
                           warm_started=self.warm[direction.value])


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    return bool(torch.isfinite(torch.stack(tensors) if len(tensors) > 1 else tensors[0]).all())


def _parts(y) -> tuple[torch.Tensor, ...]:
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def _as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach())
    return float(value) if isinstance(value, (float, int)) else math.nan
