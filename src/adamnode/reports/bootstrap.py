"""Percentile-bootstrap confidence intervals over seeds, for verdicts such as "A trains to a lower loss than B"."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def bootstrap_difference(a: Sequence[float], b: Sequence[float], *, level: float = 0.95, resamples: int = 10_000,
                         seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``mean(a) - mean(b)``, the groups resampled independently.

    ``a`` and ``b`` are per-seed values (e.g. each seed's final training loss) of two models; their
    sizes may differ. The generator is seeded, so a report renders the same interval every time.
    With few seeds the interval is too narrow (each group's spread is estimated from itself; with
    one seed per group it collapses to the observed difference), so read it with the seed count.
    """
    groups = [np.asarray(group, dtype=float) for group in (a, b)]
    if any(group.ndim != 1 or group.size == 0 for group in groups):
        raise ValueError("bootstrap_difference needs two non-empty one-dimensional groups of values")
    if not all(np.isfinite(group).all() for group in groups):
        raise ValueError("bootstrap_difference got a NaN or infinite value; leave failed runs out")
    if not 0 < level < 1:
        raise ValueError(f"the confidence level must lie in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    generator = np.random.default_rng(seed)
    first, second = (group[generator.integers(0, group.size, size=(resamples, group.size))].mean(axis=1)
                     for group in groups)
    tail = (1 - level) / 2
    low, high = np.quantile(first - second, [tail, 1 - tail])
    return float(low), float(high)
