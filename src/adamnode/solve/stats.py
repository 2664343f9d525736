"""Solve statistics counted by the library itself.

Counts live in one int64 CPU tensor so that incrementing them never syncs a GPU and they survive
autograd (the adjoint's evaluations are counted when backward runs). Nothing here talks to other
processes: a data-parallel trainer reads ``totals()`` on each rank and adds the differences it needs
across ranks in a collective of its own.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import torch


class Counter(enum.IntEnum):
    """Columns of ``SolveStats``' count tensor."""

    NFE_FORWARD = 0
    NFE_BACKWARD = 1
    STEPS_FORWARD = 2
    STEPS_BACKWARD = 3
    REJECTED_FORWARD = 4
    REJECTED_BACKWARD = 5


class SolveCounts(NamedTuple):
    """Evaluations and steps of one solve, or summed over many.

    ``nfe_*``: vector-field evaluations; ``steps_*``: attempted steps; ``rejected_*``: attempted
    steps the error control rejected (adaptive methods). ``*_backward`` is the adjoint's backward
    pass (zero with direct backprop, whose backward re-evaluates nothing).
    """

    nfe_forward: int
    nfe_backward: int
    steps_forward: int
    steps_backward: int
    rejected_forward: int
    rejected_backward: int


class SolveStats:
    """Counts of the last solve (``last()`` and the properties) and since creation (``totals()``).

    "The last solve" is the last forward solve and the backward pass that followed it. ``solves``
    counts forward solves.
    """

    def __init__(self):
        # Row 0: the last solve; row 1: everything before it. Totals are their sum.
        self._counts = torch.zeros(2, len(Counter), dtype=torch.int64)
        self._solves = torch.zeros((), dtype=torch.int64)

    def start_solve(self) -> None:
        self._counts[1] += self._counts[0]
        self._counts[0].zero_()
        self._solves += 1

    def add(self, counter: Counter, amount: int = 1) -> None:
        self._counts[0, counter] += amount

    def current(self, counter: Counter) -> int:
        """``counter`` of the solve under way (or the last one)."""
        return int(self._counts[0, counter])

    def reset(self) -> None:
        self._counts.zero_()
        self._solves.zero_()

    def last(self) -> SolveCounts:
        return SolveCounts(*self._counts[0].tolist())

    def totals(self) -> SolveCounts:
        return SolveCounts(*self._counts.sum(0).tolist())

    solves = property(lambda self: int(self._solves), doc="Forward solves counted.")
    nfe_forward = property(lambda self: self.current(Counter.NFE_FORWARD))
    nfe_backward = property(lambda self: self.current(Counter.NFE_BACKWARD))
    steps_forward = property(lambda self: self.current(Counter.STEPS_FORWARD))
    steps_backward = property(lambda self: self.current(Counter.STEPS_BACKWARD))
    rejected_forward = property(lambda self: self.current(Counter.REJECTED_FORWARD))
    rejected_backward = property(lambda self: self.current(Counter.REJECTED_BACKWARD))

    def as_dict(self) -> dict[str, int]:
        out = self.last()._asdict()
        out.update({f"total_{name}": value for name, value in self.totals()._asdict().items()})
        out["solves"] = self.solves
        return out

    def __repr__(self) -> str:
        return f"SolveStats({', '.join(f'{k}={v}' for k, v in self.as_dict().items())})"
