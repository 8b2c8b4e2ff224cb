"""The statistics comparisons rest on, checked against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import statistics as stats


def test_iqm_is_the_mean_of_the_middle_half():
    assert stats.iqm([1, 2, 3, 4, 5, 6, 7, 100]) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert stats.iqm([1, 2, 3, 4]) == pytest.approx(2.5)


def test_bootstrap_interval_shrinks_with_seeds_and_vanishes_for_equal_values():
    rng = np.random.default_rng(1)
    few, many = rng.normal(0, 1, 8), rng.normal(0, 1, 128)
    low_few, high_few = stats.bootstrap_interval(few, np.mean)
    low_many, high_many = stats.bootstrap_interval(many, np.mean)
    assert high_many - low_many < 0.5 * (high_few - low_few)
    assert low_many < 0 < high_many  # the true mean
    assert stats.bootstrap_interval([0.3] * 10, stats.iqm) == (0.3, 0.3)


def test_a_miss_counts_as_never_in_time_to_target():
    assert stats.censored_median([10, 20, 30, math.inf, math.inf]) == 30
    assert stats.censored_median([10, math.inf, math.inf]) == math.inf
    # dropping the misses instead would report 10 for a method that mostly misses
    assert stats.fraction_reached([10, 30, math.inf], np.array([0, 10, 29, 30, 1e9])).tolist() == \
        pytest.approx([0, 1 / 3, 1 / 3, 2 / 3, 2 / 3])


def test_paired_differences_resolve_a_consistent_shift_and_not_noise():
    rng = np.random.default_rng(2)
    base = rng.normal(0.2, 0.05, 20)
    value, low, high = stats.paired_difference(base + 0.01, base, stats.iqm)
    assert value == pytest.approx(0.01) and stats.resolved(low, high)  # seed noise cancels
    other = rng.normal(0.2, 0.05, 20)
    value, low, high = stats.paired_difference(other, base, stats.iqm)
    assert not stats.resolved(low, high)


def test_a_difference_of_censored_medians_can_be_infinite():
    value, low, high = stats.paired_difference([5, 6, 7], [math.inf] * 3, stats.censored_median)
    assert value == -math.inf and stats.resolved(low, high)


def test_two_methods_that_mostly_never_reach_the_target_are_not_separated():
    # both medians are never: the difference is undefined, however the defined resamples fall
    value, low, high = stats.paired_difference([math.inf, 77.0], [math.inf, 70.0], stats.censored_median)
    assert math.isnan(value) and not stats.resolved(low, high)
