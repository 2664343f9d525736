"""Fixed-step Runge-Kutta without host synchronisation.

torchdiffeq's fixed-grid loop compares time tensors in Python (a device sync per step), which
forbids capturing a training step in one CUDA graph. This loop takes the same steps with the same
coefficients (torchdiffeq's ``rk4`` is Kutta's 3/8 rule) but keeps every time on the device, so a
whole forward and backward can be captured and replayed. ``ODEBlock`` uses it automatically for
``euler``, ``midpoint`` and ``rk4`` when backpropagating directly (or without grad) to ``t1``.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import torch

# Butcher tableaux: stage nodes c, stage coefficients a (rows), weights b.
TABLEAUX: dict[str, tuple[tuple[float, ...], tuple[tuple[float, ...], ...], tuple[float, ...]]] = {
    "euler": ((0.0,), ((),), (1.0,)),
    "midpoint": ((0.0, 0.5), ((), (0.5,)), (0.0, 1.0)),
    "rk4": (
        (0.0, 1 / 3, 2 / 3, 1.0),
        ((), (1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)),
        (1 / 8, 3 / 8, 3 / 8, 1 / 8),
    ),
}


def step_sizes(t0: float, t1: float, step_size: float) -> list[float]:
    """Steps of ``step_size`` from ``t0``, the last one shortened to land on ``t1`` (as torchdiffeq)."""
    n = max(1, math.ceil((t1 - t0) / step_size - 1e-9))
    return [step_size] * (n - 1) + [t1 - t0 - (n - 1) * step_size]


def stage_times(t0: float, t1: float, step_size: float, method: str) -> torch.Tensor:
    """``[steps, stages]`` times at which ``integrate`` evaluates the field (float64, CPU).

    Callers move it to the device once and reuse it: a host-to-device copy inside a solve would
    break CUDA-graph capture.
    """
    nodes = TABLEAUX[method][0]
    steps = step_sizes(t0, t1, step_size)
    starts = [t0, *(t0 + elapsed for elapsed in itertools.accumulate(steps[:-1]))]
    return torch.tensor([[s + c * h for c in nodes] for s, h in zip(starts, steps)], dtype=torch.float64)


def integrate(
    func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    z0: torch.Tensor,
    times: torch.Tensor,
    steps: list[float],
    method: str,
    on_step: Callable[[], None],
) -> torch.Tensor:
    """``z(t1)`` by the fixed ``steps`` of ``method``, evaluating at ``times`` (see ``stage_times``).

    ``on_step`` is called before each step.
    """
    _, coefficients, weights = TABLEAUX[method]
    z = z0
    for i, h in enumerate(steps):
        on_step()
        slopes: list[torch.Tensor] = []
        for stage, row in enumerate(coefficients):
            zi = z
            for a, k in zip(row, slopes):
                if a:
                    zi = zi + (h * a) * k
            slopes.append(func(times[i, stage], zi))
        z = z + sum((h * b) * k for b, k in zip(weights, slopes) if b)
    return z
