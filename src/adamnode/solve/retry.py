"""The block's retry of a warm-started adjoint solve: redone cold inside ``backward()`` if it fails.

The retry happens before the gradients leave the block, so under DDP the other ranks only wait a
little longer in the all-reduce; the trainer never sees a warm failure it could redo.
"""

from __future__ import annotations

from typing import Callable

import torch

from .dynamics import Dynamics
from .errors import FailureKind, SolverError
from .memory import Direction, StepMemory

BACKWARD = Direction.BACKWARD


class ColdRetry:
    """One adjoint solve whose backward pass starts warm and is redone cold if that fails."""

    def __init__(self, attempt: Callable, backward_start: torch.Tensor, memory: StepMemory):
        self.attempt, self.backward_start, self.memory = attempt, backward_start, memory
        self.dynamics: Dynamics | None = None


class AdjointWithColdRetry(torch.autograd.Function):
    """``odeint_adjoint`` whose backward pass, if its warm start fails, is redone from the cautious guess.

    The forward builds torchdiffeq's adjoint graph inside (grad enabled); the backward runs it and,
    on a retryable failure, forgets the backward size, solves forward again from the same start
    (the same steps, so the same solution) and runs the fresh graph's adjoint cold.
    """

    @staticmethod
    def forward(ctx, retry: ColdRetry, z0: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            y0 = z0.detach().requires_grad_(z0.requires_grad)
            path, retry.dynamics = retry.attempt(y0, retry.backward_start)
        ctx.retry, ctx.y0, ctx.path, ctx.params = retry, y0, path, params
        return path.detach()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        retry, inputs = ctx.retry, (ctx.y0, *ctx.params)
        wanted = [x for x in inputs if x.requires_grad]
        try:
            grads = torch.autograd.grad(ctx.path, wanted, grad, allow_unused=True)
        except SolverError as error:
            if not redo_cold(error, BACKWARD):
                raise
            retry.memory.forget(BACKWARD)
            with torch.enable_grad():
                path, dynamics = retry.attempt(ctx.y0, None)
            dynamics.direction = BACKWARD
            grads = torch.autograd.grad(path, wanted, grad, allow_unused=True)
        by_input = iter(grads)
        return (None, *(next(by_input) if x.requires_grad else None for x in inputs))


def redo_cold(error: SolverError, direction: Direction) -> bool:
    """Whether a failed solve is redone from torchdiffeq's guess: it was warm and did not run out of steps."""
    return error.warm_started and error.phase == direction.phase and error.kind is not FailureKind.STEP_BUDGET
