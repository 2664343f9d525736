"""Solve statistics counted by the library itself.

Counts live in one int64 CPU tensor so that incrementing them never syncs a GPU, they survive
autograd (the adjoint's evaluations are counted when backward runs), and a data-parallel trainer can
reduce all of them with a single ``all_reduce``.
"""

from __future__ import annotations

import torch

COUNTERS = ("nfe_forward", "nfe_backward", "steps_forward", "steps_backward")


class SolveStats:
    """Evaluations (NFE) and attempted steps of the last solve and running totals.

    ``nfe_forward``/``steps_forward``: the last forward solve; ``nfe_backward``/``steps_backward``:
    the backward pass that followed it (adjoint evaluations; zero with direct backprop, whose
    backward re-evaluates nothing). ``total_*``: sums since creation or ``reset()``;
    ``solves``: forward solves counted.
    """

    def __init__(self):
        # Row 0: the last solve; row 1: everything before it. Totals are their sum.
        self.counts = torch.zeros(2, len(COUNTERS), dtype=torch.int64)
        self.solves = torch.zeros((), dtype=torch.int64)

    def start_solve(self) -> None:
        self.counts[1] += self.counts[0]
        self.counts[0].zero_()
        self.solves += 1

    def add(self, counter: int, amount: int = 1) -> None:
        self.counts[0, counter] += amount

    def current(self, counter: int) -> int:
        return int(self.counts[0, counter])

    def reset(self) -> None:
        self.counts.zero_()
        self.solves.zero_()

    def last(self, name: str) -> int:
        return self.current(COUNTERS.index(name))

    def total(self, name: str) -> int:
        return int(self.counts[:, COUNTERS.index(name)].sum())

    def as_dict(self) -> dict[str, int]:
        out = {name: self.last(name) for name in COUNTERS}
        out.update({f"total_{name}": self.total(name) for name in COUNTERS})
        out["solves"] = int(self.solves)
        return out

    def __getattr__(self, name: str) -> int:
        if name in COUNTERS:
            return self.last(name)
        if name.startswith("total_") and name[6:] in COUNTERS:
            return self.total(name[6:])
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"SolveStats({', '.join(f'{k}={v}' for k, v in self.as_dict().items())})"


NFE_FORWARD, NFE_BACKWARD, STEPS_FORWARD, STEPS_BACKWARD = range(len(COUNTERS))
