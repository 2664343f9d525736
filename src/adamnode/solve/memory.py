"""Warm starts' memory: the step size each direction of the next training solve begins from."""

from __future__ import annotations

import enum

import torch
from torch import nn


class Direction(enum.IntEnum):
    """The two solves of a training step: the forward solve and the adjoint's backward solve."""

    FORWARD = 0
    BACKWARD = 1

    @property
    def phase(self) -> str:
        return self.name.lower()


class StepMemory(nn.Module):
    """One remembered step size per direction (0: none yet).

    A buffer, so it is saved with the weights (a resumed run continues exactly), moves with
    ``.to()`` and is broadcast from rank 0 by DDP with the other buffers. Only the block that owns
    it reads or writes it.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("sizes", torch.zeros(len(Direction), dtype=torch.float64))

    def start(self, direction: Direction) -> torch.Tensor | None:
        """The size to begin ``direction``'s solve with, or None for torchdiffeq's own guess."""
        size = self.sizes[direction.value]
        # A copy: the solve that starts from it records its successor into the same slot.
        return size.clone() if bool(size > 0) else None

    def record(self, direction: Direction, size: torch.Tensor | float) -> None:
        self.sizes[direction.value].fill_(float(size))

    def forget(self, direction: Direction) -> None:
        self.sizes[direction.value].zero_()

    def extra_repr(self) -> str:
        return ", ".join(f"{d.phase}={float(self.sizes[d]):.3g}" for d in Direction)
