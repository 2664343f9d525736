"""Parameter budgets: counting a network's parameters and matching a width to a target count."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters of ``module`` (fixed rates and dampings are buffers, not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_built(build: Callable[[], nn.Module]) -> int:
    """Trainable parameters of the module ``build()`` makes, leaving torch's random state as it was.

    Sizing builds candidate models only to count them; with the random state untouched, a model's
    initial weights depend on the seed and its own architecture, not on how its width was found.
    """
    with torch.random.fork_rng(devices=[]):
        return count_parameters(build())


def matched_width(count_at: Callable[[int], int], target: int, max_width: int) -> int:
    """The width in ``1..max_width`` whose count ``count_at(width)`` lies closest to ``target``.

    Counts grow with the width, so a bisection finds the first width at or above the target and
    the closer of it and its predecessor wins (the smaller on a tie).
    """
    low, high = 1, max_width
    while low < high:
        middle = (low + high) // 2
        if count_at(middle) < target:
            low = middle + 1
        else:
            high = middle
    if low > 1 and abs(count_at(low - 1) - target) <= abs(count_at(low) - target):
        return low - 1
    return low
