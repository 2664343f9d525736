"""How a solve is differentiated: one small object per strategy, chosen by ``SolverOptions.gradient``.

- ``Direct``: autograd through the solver core's operations. Exact gradients of the discrete solve;
  memory grows with the steps times ``f``'s activations at every stage.
- ``Checkpoint``: the forward solve runs without a graph and keeps the accepted steps (time, size)
  and the state at the start of every ``every``-th step; the backward pass recomputes each segment
  of ``every`` steps with a graph, newest first, and backpropagates through it. Its gradients are
  ``Direct``'s (the same operations on the same numbers). Memory: ``steps / every`` states plus one
  segment's activations; by default ``every`` follows ``sqrt(steps)`` (``stepping.Trace``), so both
  terms grow like ``sqrt(steps)``. Cost: each accepted step is evaluated once more (rejected ones
  are not replayed), whatever ``every`` is.
- ``Adjoint``: torchdiffeq's continuous adjoint (memory independent of the steps; gradients
  approximate, with their own error control, a second solve backwards). Kept as the reference's
  path and for memory-bound problems.

Each ``solve`` returns the stacked states at the problem's times and the ``Dynamics`` that counted
the evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torchdiffeq import odeint_adjoint

from .dynamics import Dynamics
from .errors import FailureKind, SolverError
from .memory import Direction, StepMemory
from .retry import AdjointWithColdRetry, ColdRetry
from .stepping import Clock, Control, Trace, integrate, rk_step
from .tableaux import TABLEAUX

FORWARD, BACKWARD = Direction.FORWARD, Direction.BACKWARD


@dataclass
class Problem:
    """One solve: the state, its times, how to step, and how to build the counted right-hand side.

    ``times`` are host floats (``times[0]`` the start); ``t0`` is ``times[0]`` as a tensor of the
    state's dtype and device. ``dynamics(backward_start)`` makes a fresh ``Dynamics``; ``wrap`` turns
    it into what the solver integrates (the regulariser's augmented field, or itself). ``params``:
    the tensors besides ``y0`` whose gradients the strategy must return.
    """

    y0: torch.Tensor
    times: list[float]
    t0: torch.Tensor
    method: str
    control: Control
    check_finite: bool
    dynamics: Callable[[torch.Tensor | None], Dynamics]
    wrap: Callable[[Dynamics], Callable]
    params: tuple[torch.Tensor, ...]

    def integrate(self, dynamics: Dynamics, y0: torch.Tensor, trace: Trace | None = None) -> list[torch.Tensor]:
        return integrate(self.wrap(dynamics), y0, self.times, self.t0, TABLEAUX[self.method], self.control,
                         dynamics, trace=trace, check_finite=self.check_finite)


class Direct:
    name = "direct"

    def solve(self, problem: Problem) -> tuple[torch.Tensor, Dynamics]:
        dynamics = problem.dynamics(None)
        return torch.stack(problem.integrate(dynamics, problem.y0)), dynamics


class Checkpoint:
    name = "checkpoint"

    def __init__(self, every: int | None = None):
        self.every = every

    def solve(self, problem: Problem) -> tuple[torch.Tensor, Dynamics]:
        inputs = (problem.y0, *problem.params)
        if not torch.is_grad_enabled() or not any(x.requires_grad for x in inputs):
            return Direct().solve(problem)
        dynamics = problem.dynamics(None)
        path = _Replay.apply(_Run(problem, dynamics, self.every), problem.y0, *problem.params)
        return path, dynamics


class _Run:
    """What ``_Replay`` needs between its forward and its backward (not tensors: those are saved)."""

    def __init__(self, problem: Problem, dynamics: Dynamics, every: int):
        self.problem, self.dynamics, self.every = problem, dynamics, every
        self.trace: Trace | None = None


class _Replay(torch.autograd.Function):
    """A solve whose backward pass replays its accepted steps segment by segment (see ``Checkpoint``).

    For FSAL methods each kept point holds the state and the first stage of the next step (its
    derivative, which the forward pass took from the previous step's last stage), so the replay
    evaluates exactly the forward solve's accepted stages, and the gradient reaching that stage is
    carried back as a second adjoint, as the forward graph would carry it. The kept tensors go
    through ``save_for_backward``, so ``saved_tensors_hooks`` (memory accounting) see them like any
    other saved tensor.
    """

    @staticmethod
    def forward(ctx, run: _Run, y0: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        run.trace = Trace(run.every, keep_stage=TABLEAUX[run.problem.method].fsal)
        with torch.no_grad():
            outputs = run.problem.integrate(run.dynamics, y0, run.trace)
        ctx.run = run
        ctx.save_for_backward(*(tensor for point in run.trace.states for tensor in point))
        return torch.stack(outputs)

    @staticmethod
    def backward(ctx, grad_path: torch.Tensor):
        _refuse_second_order("checkpoint")
        run = ctx.run
        problem, trace = run.problem, run.trace
        saved = ctx.saved_tensors
        width = 2 if trace.keep_stage else 1
        points = [saved[i:i + width] for i in range(0, len(saved), width)]
        params = problem.params
        wanted = [i for i, p in enumerate(params) if p.requires_grad]
        # The gradient arriving at each step boundary from the outputs that landed there.
        arriving: dict[int, torch.Tensor] = {}
        for i, step in enumerate(trace.landings):
            arriving[step] = arriving[step] + grad_path[i] if step in arriving else grad_path[i]
        adjoint = arriving.get(trace.steps, torch.zeros_like(grad_path[0]))
        stage_adjoint: torch.Tensor | None = None  # the gradient reaching the next step's first stage
        param_grads: list[torch.Tensor | None] = [None] * len(params)
        func = problem.wrap(run.dynamics)
        clock = Clock(problem.t0, problem.times[0])
        tableau = TABLEAUX[problem.method]

        def accumulate(grads) -> None:
            for i, g in zip(wanted, grads):
                if g is not None:
                    param_grads[i] = g if param_grads[i] is None else param_grads[i] + g

        for segment in reversed(range(len(points))):
            first = segment * trace.every
            last = min(first + trace.every, trace.steps)
            with torch.enable_grad():
                starts = [x.detach().requires_grad_(True) for x in points[segment]]
                y, k1, ends = starts[0], (starts[1] if trace.keep_stage else None), []
                for step in range(first, last):
                    t, h = trace.starts[step], trace.sizes[step]
                    run.dynamics.on_replay()
                    y, stages = rk_step(func, clock, tableau, t, h, y, k1 if k1 is not None else func(clock(t), y))
                    k1 = stages[-1] if tableau.fsal else None
                    ends.append(y)
            interior = [step for step in range(first + 1, last) if step in arriving]
            outputs = [ends[-1]] + [ends[step - first - 1] for step in interior]
            grads_out = [adjoint] + [arriving[step] for step in interior]
            if stage_adjoint is not None:
                outputs.append(k1)
                grads_out.append(stage_adjoint)
            inputs = starts + [params[i] for i in wanted]
            grads = torch.autograd.grad(outputs, inputs, grads_out, allow_unused=True)
            adjoint = _or_zeros(grads[0], adjoint)
            if trace.keep_stage:
                stage_adjoint = _or_zeros(grads[1], adjoint)
            if first in arriving:
                adjoint = adjoint + arriving[first]
            accumulate(grads[width:])
        if stage_adjoint is not None:
            # The first stage of the first step, f(t0, y0), depends on y0 and the parameters too.
            with torch.enable_grad():
                y0 = points[0][0].detach().requires_grad_(True)
                k0 = func(clock(problem.times[0]), y0)
            grads = torch.autograd.grad(k0, [y0] + [params[i] for i in wanted], stage_adjoint, allow_unused=True)
            adjoint = adjoint + _or_zeros(grads[0], adjoint)
            accumulate(grads[1:])
        return (None, adjoint, *param_grads)


def _or_zeros(grad: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(like) if grad is None else grad


class Adjoint:
    """torchdiffeq's ``odeint_adjoint``, with the block's warm starts and their cold retry."""

    name = "adjoint"

    def __init__(self, seminorm: bool, memory: StepMemory, backward_start: torch.Tensor | None,
                 torchdiffeq_options: Callable[..., dict]):
        self.seminorm, self.memory, self.backward_start = seminorm, memory, backward_start
        self.options = torchdiffeq_options

    def solve(self, problem: Problem) -> tuple[torch.Tensor, Dynamics]:
        t = torch.tensor(problem.times, dtype=problem.y0.dtype, device=problem.y0.device)

        def attempt(y0: torch.Tensor, backward_start: torch.Tensor | None) -> tuple[torch.Tensor, Dynamics]:
            dynamics = problem.dynamics(backward_start)
            dynamics.collect_derivatives = True
            solution = translated(dynamics, lambda: odeint_adjoint(
                problem.wrap(dynamics), y0, t, rtol=problem.control.rtol, atol=problem.control.atol,
                method=problem.method, options=self.options(t, FORWARD), adjoint_params=problem.params,
                adjoint_options=self.options(t, BACKWARD, backward_start)))
            return solution, dynamics

        if self.backward_start is None:
            path, dynamics = attempt(problem.y0, None)
        else:
            retry = ColdRetry(attempt, self.backward_start, self.memory)
            path = AdjointWithColdRetry.apply(retry, problem.y0, *problem.params)
            dynamics = retry.dynamics
        return _FirstOrderOnly.apply(path), dynamics


class _FirstOrderOnly(torch.autograd.Function):
    """The identity, whose backward refuses to build a graph: torchdiffeq's adjoint returns
    gradients without the second-order terms, so a double backward through it would be partial."""

    @staticmethod
    def forward(ctx, path: torch.Tensor) -> torch.Tensor:
        return path.view_as(path)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        _refuse_second_order("adjoint")
        return grad


def _refuse_second_order(gradient: str) -> None:
    # backward runs with grad enabled only when asked for create_graph=True.
    if torch.is_grad_enabled():
        raise RuntimeError(f"second derivatives through gradient='{gradient}' are not computed (its backward pass "
                           "is not differentiable); use gradient='direct' for double backward")


def translated(dynamics: Dynamics, solve: Callable[[], Any]) -> Any:
    """``solve()``, with torchdiffeq's own assertions turned into a ``SolverError``; the field's pass through."""
    try:
        return solve()
    except AssertionError as error:
        if dynamics.field_raised:
            raise
        raise dynamics.failure(FailureKind.SOLVER_STOPPED, f"torchdiffeq stopped ({error})",
                               dynamics.direction) from None


__all__ = ["Adjoint", "Checkpoint", "Direct", "Problem", "SolverError"]
