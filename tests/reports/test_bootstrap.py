"""The percentile-bootstrap interval of a difference of means, on examples whose answer is known."""

from __future__ import annotations

import pytest

from adamnode.reports.bootstrap import bootstrap_difference


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
    ([], [1.0], {}, "non-empty"),
    ([1.0, float("nan")], [1.0], {}, "NaN"),
    ([1.0], [1.0], {"level": 1.0}, r"\(0, 1\)"),
])
def test_bad_input_is_named(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_difference(a, b, **kwargs)
