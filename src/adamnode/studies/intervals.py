"""Confidence intervals of a difference of means over seeds, for verdicts such as "A trains to a lower
loss than B": the percentile bootstrap, Welch's t interval, which keeps its coverage with as
few as three seeds a model, where the bootstrap's interval is too narrow, and the paired t interval
for runs that share their seed's batches."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Sequence

import numpy as np

#: Simpson panels for the t distribution's mass: quantiles within 1e-7 of the exact ones for p up
#: to 0.995 at every freedom up to LARGE_FREEDOM (checked against scipy).
SIMPSON_PANELS = 2_000
#: Beyond this the mass's peak (width about 1/sqrt(freedom)) is too narrow for the panels, and the
#: Cornish-Fisher series about the normal quantile is exact to far below float precision.
LARGE_FREEDOM = 1e5


def bootstrap_difference(a: Sequence[float], b: Sequence[float], *, level: float = 0.95, resamples: int = 10_000,
                         seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``mean(a) - mean(b)``, the groups resampled independently.

    ``a`` and ``b`` are per-seed values (e.g. each seed's final training loss) of two models; their
    sizes may differ. The generator is seeded, so a report renders the same interval every time.
    With few seeds the interval is too narrow (each group's spread is estimated from itself; with
    one seed per group it collapses to the observed difference), so read it with the seed count.
    """
    groups = _groups("bootstrap_difference", a, b, level, smallest=1)
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    generator = np.random.default_rng(seed)
    first, second = (group[generator.integers(0, group.size, size=(resamples, group.size))].mean(axis=1)
                     for group in groups)
    tail = (1 - level) / 2
    low, high = np.quantile(first - second, [tail, 1 - tail])
    return float(low), float(high)


def welch_difference(a: Sequence[float], b: Sequence[float], *, level: float = 0.95) -> tuple[float, float]:
    """Welch's t interval of ``mean(a) - mean(b)``: unequal variances, Welch-Satterthwaite degrees of
    freedom. Assumes each group's values are normal; with 3 seeds it is wide where the bootstrap's
    is falsely narrow. Each group needs two values; two groups without spread give the difference.
    """
    first, second = _groups("welch_difference", a, b, level, smallest=2)
    shares = [group.var(ddof=1) / group.size for group in (first, second)]
    difference = float(first.mean() - second.mean())
    spread = math.sqrt(sum(shares))
    if spread == 0:
        return difference, difference
    # Welch-Satterthwaite; scale-free, so computed on shares relative to the larger (tiny spreads
    # would underflow when squared).
    relative = [share / max(shares) for share in shares]
    freedom = sum(relative) ** 2 / sum(share**2 / (group.size - 1) for share, group in zip(relative, (first, second)))
    half = student_t_quantile((1 + level) / 2, freedom) * spread
    return difference - half, difference + half


def paired_difference(a: Sequence[float], b: Sequence[float], *, level: float = 0.95) -> tuple[float, float]:
    """Student's t interval of the mean of ``a[i] - b[i]``: for runs paired by seed, where both models
    of a pair saw the same batches in the same order, so what the seed changes cancels in each
    difference. Assumes the differences are normal; needs two pairs. Narrower than Welch's interval
    when the pairs share their variation, and only then valid: pair runs that share data, not
    arbitrary lists.
    """
    first, second = _groups("paired_difference", a, b, level, smallest=2)
    if first.size != second.size:
        raise ValueError(f"paired_difference needs as many values in each group (pairs), got {first.size} and "
                         f"{second.size}")
    differences = first - second
    mean = float(differences.mean())
    half = student_t_quantile((1 + level) / 2, differences.size - 1) * float(differences.std(ddof=1)) / math.sqrt(
        differences.size)
    return mean - half, mean + half


def student_t_quantile(p: float, freedom: float) -> float:
    """The ``p`` quantile of Student's t with ``freedom >= 1`` degrees of freedom (not necessarily whole;
    ``inf`` gives the normal quantile).

    With t = sqrt(freedom) tan(theta), P(0 < T < t) = c * integral_0^theta cos(phi)^(freedom - 1) dphi,
    c = Gamma((freedom + 1) / 2) / (sqrt(pi) Gamma(freedom / 2)): a bounded integrand on [0, pi/2),
    integrated by Simpson's rule and inverted by bisection on theta. Above ``LARGE_FREEDOM``, the
    Cornish-Fisher series to the third order in 1/freedom.
    """
    if not 0 < p < 1:
        raise ValueError(f"a quantile's probability must lie in (0, 1), got {p}")
    if not freedom >= 1:
        raise ValueError(f"Student's t needs at least 1 degree of freedom here, got {freedom}")
    if p < 0.5:
        return -student_t_quantile(1 - p, freedom)
    if freedom > LARGE_FREEDOM:
        z = NormalDist().inv_cdf(p)
        terms = ((z**3 + z) / 4, (5 * z**5 + 16 * z**3 + 3 * z) / 96,
                 (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384)
        return z + sum(term / freedom**order for order, term in enumerate(terms, start=1))
    scale = math.exp(math.lgamma((freedom + 1) / 2) - math.lgamma(freedom / 2)) / math.sqrt(math.pi)
    # The nodes on [0, theta] are theta times those on [0, 1]; the weights are the same for every theta.
    unit = np.linspace(0.0, 1.0, 2 * SIMPSON_PANELS + 1)
    weights = np.ones_like(unit)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0

    def mass(theta: float) -> float:
        return scale * theta / (6 * SIMPSON_PANELS) * float(weights @ np.cos(theta * unit) ** (freedom - 1))

    low, high = 0.0, math.pi / 2
    while high - low > 1e-13:
        middle = (low + high) / 2
        low, high = (middle, high) if mass(middle) < p - 0.5 else (low, middle)
    return math.sqrt(freedom) * math.tan((low + high) / 2)


def _groups(caller: str, a, b, level: float, smallest: int) -> list[np.ndarray]:
    groups = [np.asarray(group, dtype=float) for group in (a, b)]
    if any(group.ndim != 1 or group.size < smallest for group in groups):
        raise ValueError(f"{caller} needs two one-dimensional groups of at least {smallest} value(s) each")
    if not all(np.isfinite(group).all() for group in groups):
        raise ValueError(f"{caller} got a NaN or infinite value; leave failed runs out")
    if not 0 < level < 1:
        raise ValueError(f"the confidence level must lie in (0, 1), got {level}")
    return groups
