"""Intervals of a difference of means (percentile bootstrap, Welch, paired t), on examples whose answer is known."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from adamnode.studies.intervals import bootstrap_difference, paired_difference, student_t_quantile, welch_difference


def test_groups_without_spread_give_the_difference_exactly():
    assert bootstrap_difference([2.0, 2.0, 2.0], [1.5, 1.5]) == (0.5, 0.5)


def test_identical_groups_give_an_interval_around_zero_and_symmetric():
    values = [0.41, 0.47, 0.52, 0.44, 0.60]
    low, high = bootstrap_difference(values, values, resamples=20_000)
    assert low < 0 < high
    assert abs(low + high) < 0.03 * (high - low)


def test_a_two_point_group_against_a_constant_has_its_enumerable_interval():
    # mean of a resample of [0, 1] is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4: the 2.5 % and
    # 97.5 % quantiles are 0 and 1; at level 0.4 (quantiles 30 % and 70 %) both fall on 0.5.
    assert bootstrap_difference([0.0, 1.0], [3.0, 3.0]) == (-3.0, -2.0)
    assert bootstrap_difference([0.0, 1.0], [3.0, 3.0], level=0.4) == (-2.5, -2.5)


def test_a_clear_difference_excludes_zero_and_the_seed_fixes_the_answer():
    lower = [0.30, 0.32, 0.31, 0.29]
    higher = [0.50, 0.55, 0.52, 0.49]
    interval = bootstrap_difference(lower, higher, seed=5)
    assert interval[1] < 0 and interval == bootstrap_difference(lower, higher, seed=5)
    assert min(lower) - max(higher) <= interval[0] <= interval[1] <= max(lower) - min(higher)


@pytest.mark.parametrize("a, b, kwargs, message", [
    ([], [1.0], {}, "at least 1 value"),
    ([1.0, float("nan")], [1.0], {}, "NaN"),
    ([1.0], [1.0], {"level": 1.0}, r"\(0, 1\)"),
])
def test_bad_input_is_named(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_difference(a, b, **kwargs)


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_student_t_quantiles_match_the_closed_forms_for_one_and_two_degrees(p):
    # One degree: Cauchy, tan(pi (p - 1/2)); two: (2p - 1) / sqrt(2 p (1 - p)).
    assert student_t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
    assert student_t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)
    assert student_t_quantile(1 - p, 2) == -student_t_quantile(p, 2)


def test_many_degrees_approach_the_normal_and_fractional_ones_lie_between_whole_ones():
    normal = NormalDist().inv_cdf(0.975)
    assert student_t_quantile(0.975, 1e4) == pytest.approx(normal + (normal**3 + normal) / 4e4, abs=1e-7)
    assert student_t_quantile(0.975, 1e8) == pytest.approx(normal + (normal**3 + normal) / 4e8, abs=1e-12)
    assert student_t_quantile(0.975, math.inf) == normal
    assert student_t_quantile(0.975, 2) > student_t_quantile(0.975, 2.5) > student_t_quantile(0.975, 3)


def test_welch_interval_by_hand():
    # Differences of means -3, variances 1 and 1: standard error sqrt(2/3), Welch-Satterthwaite
    # (2/3)^2 / (2 (1/3)^2 / 2) = 4 degrees, whose 97.5 % quantile is 2.776445 (tables).
    low, high = welch_difference([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    half = 2.776445 * math.sqrt(2 / 3)
    assert (low, high) == (pytest.approx(-3 - half, abs=1e-5), pytest.approx(-3 + half, abs=1e-5))


def test_welch_is_wider_than_the_bootstrap_with_three_seeds_and_exact_without_spread():
    a, b = [0.50, 0.52, 0.55], [0.53, 0.56, 0.60]
    welch, bootstrap = welch_difference(a, b), bootstrap_difference(a, b)
    assert welch[0] < bootstrap[0] and bootstrap[1] < welch[1]
    assert welch_difference([2.0, 2.0], [1.5, 1.5, 1.5]) == (0.5, 0.5)
    # Spreads whose squares underflow still give an interval around the difference.
    low, high = welch_difference([0.0, 1e-160, 2e-160], [0.0, 1e-160])
    assert low < 5e-161 < high


def test_welch_needs_two_values_a_group():
    with pytest.raises(ValueError, match="at least 2 value"):
        welch_difference([1.0], [1.0, 2.0])


def test_paired_interval_by_hand():
    # Differences 1, 2, 3: mean 2, sample sd 1, two degrees of freedom, whose t quantile has the
    # closed form (2p - 1) / sqrt(2p (1 - p)) = 4.3027 at p = 0.975: 2 +- 4.3027 / sqrt(3).
    half = 0.95 / math.sqrt(2 * 0.975 * 0.025) / math.sqrt(3)
    low, high = paired_difference([11.0, 22.0, 33.0], [10.0, 20.0, 30.0])
    assert low == pytest.approx(2 - half, abs=1e-6) and high == pytest.approx(2 + half, abs=1e-6)
    # Welch's interval of the same values is far wider: the pairs' shared spread is not cancelled.
    welch = welch_difference([11.0, 22.0, 33.0], [10.0, 20.0, 30.0])
    assert welch[1] - welch[0] > 5 * (high - low)


def test_paired_needs_pairs():
    with pytest.raises(ValueError, match="as many values in each group"):
        paired_difference([1.0, 2.0, 3.0], [1.0, 2.0])
