"""Solve statistics counted by the library itself.

Counts are plain Python integers, incremented on the host from torchdiffeq's callbacks and from
each evaluation (the adjoint's are counted when backward runs): no device is touched, so counting
never syncs a GPU, and an increment costs a fraction of a microsecond where a tensor's costs tens
(``benchmarks/overhead.py``). Nothing here talks to other processes: a data-parallel trainer reads
``totals()`` on each rank and adds the differences it needs across ranks in a collective of its own.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Counter(enum.IntEnum):
    """The counts ``SolveStats`` keeps, by position."""

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
        self.reset()

    def start_solve(self) -> None:
        self._before = [before + last for before, last in zip(self._before, self._last)]
        self._last = [0] * len(Counter)
        self._solves += 1

    def add(self, counter: Counter, amount: int = 1) -> None:
        self._last[counter.value] += amount

    def current(self, counter: Counter) -> int:
        """``counter`` of the solve under way (or the last one)."""
        return self._last[counter.value]

    def reset(self) -> None:
        # The last solve's counts, and everything before it; totals are their sum.
        self._last, self._before = [0] * len(Counter), [0] * len(Counter)
        self._solves = 0

    def last(self) -> SolveCounts:
        return SolveCounts(*self._last)

    def totals(self) -> SolveCounts:
        return SolveCounts(*(before + last for before, last in zip(self._before, self._last)))

    solves = property(lambda self: self._solves, doc="Forward solves counted.")
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
