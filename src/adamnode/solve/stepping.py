"""The solver core: explicit Runge-Kutta steps, adaptive or fixed, landing on every output time.

One loop for every method of ``tableaux.TABLEAUX``. Times and step sizes live on the host as
Python floats (float64): the step-size controller costs a few float operations per step instead of
the dozen tiny tensor operations torchdiffeq spends on it, and an adaptive step syncs the device
exactly once (its error ratio and the finiteness of the new state, read together). Fixed steps are
generated one at a time (memory does not grow with their number) and never sync, so a fixed-step
solve can be captured in a CUDA graph or traced by ``torch.compile``.

The controller is torchdiffeq's (the same initial-step heuristic, safety 0.9, growth at most 10x,
shrinking at most 5x, never shrinking after an accepted step), so from the same start both take
the same steps. Unlike torchdiffeq's default the loop never steps past an output time: a step that
would cross one is cut to land on it, so the field is never evaluated outside ``[t0, t_end]`` and
no interpolant is needed. Step sizes are decided without autograd: the gradient of a solve is the
gradient of the discrete map along the steps it took (what ``checkpoint`` replays exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch

from .errors import FailureKind, SolverError
from .memory import Direction
from .tableaux import Tableau

Func = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Norm = Callable[[torch.Tensor], torch.Tensor]

SAFETY, MAX_GROWTH, MAX_SHRINK = 0.9, 10.0, 0.2


class Monitor(Protocol):
    """What the loop reports to (``solve.dynamics.Dynamics``): step counts, acceptance, failures."""

    def on_step(self, direction: Direction, t: float, dt: float) -> None: ...

    def on_accept(self, direction: Direction, dt: float) -> None: ...

    def on_reject(self, direction: Direction) -> None: ...

    def failure(self, kind: FailureKind, reason: str, direction: Direction) -> SolverError: ...


@dataclass(frozen=True)
class Control:
    """How the steps are chosen: ``step_size`` for fixed-step methods, tolerances and norm otherwise."""

    rtol: float = 0.0
    atol: float = 0.0
    step_size: float | None = None
    first_step: float | None = None
    norm: Norm | None = None


@dataclass
class Trace:
    """The accepted steps of a solve, for a pass that replays them (``solve.gradients.Checkpoint``).

    ``starts[k]``, ``sizes[k]``: time and size of accepted step ``k``. ``states``: what the solve
    held at the start of every ``every``-th step (``states[j]`` before step ``j * every``): the
    state, and with ``keep_stage`` also the step's first stage (FSAL methods reuse the previous
    step's last one), so memory is ``steps / every`` points. ``every=None`` chooses it as the solve
    goes, without knowing its length: it starts at 1 and doubles (dropping every other kept point)
    whenever more than ``2 * every`` points are kept, so both the kept points and a segment's
    length stay near ``sqrt(steps)``. ``landings[i]``: how many steps were done when output ``i``
    was reached (``landings[0] == 0``).
    """

    def __post_init__(self):
        self.adapts = self.every is None
        self.every = self.every or 1

    every: int | None
    keep_stage: bool = False
    starts: list[float] = field(default_factory=list)
    sizes: list[float] = field(default_factory=list)
    states: list[tuple[torch.Tensor, ...]] = field(default_factory=list)
    landings: list[int] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.sizes)


class Clock:
    """Stage times as tensors on the state's device: ``t0`` plus a host offset, so no host-to-device copy.

    A copy per evaluation would sync a GPU and break CUDA-graph capture; adding a Python float to a
    device scalar is one kernel with the float as its argument.
    """

    def __init__(self, t0: torch.Tensor, start: float):
        self.t0, self.start = t0, start

    def __call__(self, t: float) -> torch.Tensor:
        return self.t0 + (t - self.start) if t != self.start else self.t0


def rk_step(func: Func, clock: Clock, tableau: Tableau, t: float, h: float, y: torch.Tensor,
            k1: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One step of ``tableau`` from ``(t, y)`` with first stage ``k1``: ``(y1, stages)``.

    With FSAL the last stage is evaluated at ``y1`` itself (its input is exactly ``y1``).
    """
    stages = [k1]
    y_stage = y
    for c, row in zip(tableau.c[1:], tableau.a[1:]):
        y_stage = combine(y, h, row, stages)
        stages.append(func(clock(t + h if c == 1.0 else t + c * h), y_stage))
    y1 = y_stage if tableau.fsal else combine(y, h, tableau.b, stages)
    return y1, stages


def combine(y: torch.Tensor, h: float, weights, stages: list[torch.Tensor]) -> torch.Tensor:
    """``y + h * sum(w_i k_i)``, one fused multiply-add per non-zero weight."""
    out = y
    for w, k in zip(weights, stages):
        if w:
            out = torch.add(out, k, alpha=h * w)
    return out


def rms(x: torch.Tensor) -> torch.Tensor:
    return x.abs().pow(2).mean().sqrt()


def integrate(func: Func, y0: torch.Tensor, times: list[float], t0: torch.Tensor, tableau: Tableau,
              control: Control, monitor: Monitor, direction: Direction = Direction.FORWARD,
              trace: Trace | None = None, check_finite: bool = True) -> list[torch.Tensor]:
    """The states at ``times`` (``times[0]`` is the start, ``y0``), solving ``dy/dt = func(t, y)``.

    ``t0``: ``times[0]`` as a tensor of the state's dtype and device (see ``Clock``). ``trace``:
    filled with the accepted steps when given.
    """
    clock = Clock(t0, times[0])
    if trace is not None:
        trace.landings.append(0)
    if tableau.adaptive:
        return _adaptive(func, y0, times, clock, tableau, control, monitor, direction, trace, check_finite)
    return _fixed(func, y0, times, clock, tableau, control.step_size, monitor, direction, trace)


def _fixed(func, y0, times, clock, tableau, step_size, monitor, direction, trace) -> list[torch.Tensor]:
    outputs, y = [y0], y0
    for start, end in zip(times[:-1], times[1:]):
        n = max(1, math.ceil((end - start) / step_size - 1e-9))
        for i in range(n):
            t = start + i * step_size
            h = end - t if i == n - 1 else step_size
            monitor.on_step(direction, t, h)
            k1 = func(clock(t), y)
            _keep(trace, t, h, y, k1)
            y, _ = rk_step(func, clock, tableau, t, h, y, k1)
        outputs.append(y)
        if trace is not None:
            trace.landings.append(trace.steps)
    return outputs


def _keep(trace: Trace | None, t: float, h: float, y: torch.Tensor, k1: torch.Tensor) -> None:
    if trace is not None:
        if trace.steps % trace.every == 0:
            trace.states.append((y, k1) if trace.keep_stage else (y,))
            if trace.adapts and len(trace.states) > 2 * trace.every:
                trace.every *= 2
                del trace.states[1::2]
        trace.starts.append(t)
        trace.sizes.append(h)


# Dynamo would break its graph at every step's sync and recompile for every new step size: under
# torch.compile the adaptive loop runs eagerly (the model around it still compiles).
@torch.compiler.disable
def _adaptive(func, y0, times, clock, tableau, control, monitor, direction, trace, check_finite):
    norm = control.norm or rms
    t, y = times[0], y0
    k1 = func(clock(t), y)
    h = control.first_step or initial_step(func, clock, t, y, k1, tableau.order, control, norm)
    outputs = [y0]
    for end in times[1:]:
        while t < end:
            monitor.on_step(direction, t, h)
            lands = t + h >= end
            step = end - t if lands else h
            y1, stages = rk_step(func, clock, tableau, t, step, y, k1)
            ratio = _error_ratio(y, y1, stages, step, tableau, control, norm, check_finite)
            if not math.isfinite(ratio):
                kind = (FailureKind.NON_FINITE_FIELD if not _all_finite(stages) else
                        FailureKind.NON_FINITE_ADJOINT if direction is Direction.BACKWARD else
                        FailureKind.NON_FINITE_SOLUTION)
                raise monitor.failure(kind, "NaN or Inf in a trial step", direction)
            if ratio <= 1.0:
                monitor.on_accept(direction, step)
                _keep(trace, t, step, y, k1)
                t, y = (end if lands else t + step), y1
                k1 = stages[-1] if tableau.fsal else func(clock(t), y)
            else:
                monitor.on_reject(direction)
            h = next_step(step, ratio, tableau.order)
        outputs.append(y)
        if trace is not None:
            trace.landings.append(trace.steps)
    return outputs


def _error_ratio(y0, y1, stages, h, tableau, control, norm, check_finite) -> float:
    """The step's scaled error norm (accept at <= 1); NaN where the new state is not finite."""
    with torch.no_grad():
        error = combine(torch.zeros_like(y0), h, tableau.error, stages)
        scale = torch.maximum(y0.abs(), y1.abs()).mul_(control.rtol).add_(control.atol)
        ratio = norm(error / scale)
        if check_finite:
            # Read with the ratio in one sync; an overflowing trial state can make the ratio 0.
            ratio = torch.where(torch.isfinite(y1).all(), ratio, torch.full_like(ratio, math.nan))
        return float(ratio)


def next_step(h: float, ratio: float, order: int) -> float:
    """torchdiffeq's proposal: ``h * clip(0.9 / ratio**(1/order), 0.2 (or 1 after an accepted step), 10)``."""
    root = ratio ** (1.0 / order)
    if root == 0.0:
        return h * MAX_GROWTH
    shrink = 1.0 if ratio < 1.0 else MAX_SHRINK
    return h * min(MAX_GROWTH, max(SAFETY / root, shrink))


def initial_step(func, clock, t, y, k1, order, control, norm) -> float:
    """Hairer, Norsett & Wanner's starting step (Solving ODEs I, II.4), with torchdiffeq's constants."""
    with torch.no_grad():
        scale = y.abs().mul(control.rtol).add_(control.atol)
        d0, d1 = float(norm(y / scale)), float(norm(k1 / scale))
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        k2 = func(clock(t + h0), y + h0 * k1)
        # h0 is 0 only where k1 overflowed; the zero step is then reported as a non-finite field.
        d2 = float(norm((k2 - k1) / scale)) / h0 if h0 > 0 else math.inf
    h1 = max(1e-6, h0 * 1e-3) if d1 <= 1e-15 and d2 <= 1e-15 else (0.01 / max(d1, d2)) ** (1.0 / order)
    return min(100 * h0, h1)


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(x).all()) for x in tensors)
