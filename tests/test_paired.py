"""Paired comparisons over seeds (autoscale.book.paired) against hand-derived values and scipy's
paired t test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from autoscale.book.paired import mean_interval, paired_difference


def test_hand_derived_interval():
    # d = (1, 2, 3): mean 2, s = 1, t(0.975, 2) = 4.302653, half-width 4.302653 / sqrt(3) = 2.484138.
    d = paired_difference({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert d.mean == pytest.approx(2.0)
    assert (d.low, d.high) == pytest.approx((2 - 2.484138, 2 + 2.484138), abs=1e-6)
    assert d.sign == 0 and d.seeds == (0, 1, 2)
    assert d.text() == "+2.00 [-0.48, +4.48] (3 seeds)"


def test_interval_matches_scipys_paired_t_test():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 7), rng.normal(0.0, 1.0, 7)
    d = paired_difference(dict(enumerate(a)), dict(enumerate(b)), level=0.9)
    reference = stats.ttest_rel(a, b).confidence_interval(0.9)
    assert (d.low, d.high) == pytest.approx((reference.low, reference.high), rel=1e-10)


def test_pairing_removes_what_the_seed_contributes_to_both():
    # The seed moves both methods by 0, 10, 20; A is B + 1 up to +-0.01. Paired, the difference is
    # resolved; the spread of either method alone (s = 10) would hide it.
    b = {s: 10.0 * s for s in range(3)}
    a = {s: b[s] + 1.0 + e for s, e in zip(range(3), (0.01, -0.01, 0.0), strict=True)}
    d = paired_difference(a, b)
    assert d.sign == 1 and 0.9 < d.low < d.mean < d.high < 1.1
    assert mean_interval(a).sign == 0  # each alone: mean 11, interval wider than 11


def test_only_common_seeds_are_paired_and_one_seed_has_no_interval():
    d = paired_difference({0: 3.0, 1: 5.0, 7: 100.0}, {1: 4.0, 2: 0.0})
    assert d.seeds == (1,) and d.mean == 1.0
    assert math.isnan(d.low) and d.sign is None
    assert d.text() == "+1.00 (1 seed, no interval)"
    with pytest.raises(ValueError, match="no common seed"):
        paired_difference({0: 1.0}, {1: 1.0})
