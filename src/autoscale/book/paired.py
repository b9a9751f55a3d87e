"""Paired comparisons over seeds: the statistics behind every "A vs B" statement of the book.

A seed fixes the initialisation, the data order and the method's own draws, identically for every
method (:mod:`autoscale.training.config`), so two methods run on the same seeds form pairs: the
per-seed difference d_s = x_A(s) - x_B(s) removes what the seed contributes to both. For n common
seeds the book reports the mean difference d̄ with a Student t interval over seeds,

    d̄ ± t_{1 - (1 - level)/2, n - 1} · s_d / √n,   s_d the sample standard deviation (ddof = 1),

the textbook paired t interval. It is chosen over a bootstrap because the book has 3 seeds per
comparison: a bootstrap over 3 values has only 10 distinct resamples and understates the spread,
while the t interval is exact for normal differences and honest about how little 3 seeds say
(t_{0.975, 2} = 4.30). With one common seed there is no interval (nan) and only the sign is known.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class PairedDifference:
    """Mean per-seed difference A - B over ``seeds`` with its ``level`` t interval [low, high]."""

    mean: float
    low: float
    high: float
    seeds: tuple[int, ...]
    level: float = LEVEL

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def sign(self) -> int | None:
        """+1 if the interval lies above 0 (A larger), -1 below, 0 if it holds 0; None without an
        interval (fewer than two seeds)."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return None
        return 1 if self.low > 0 else (-1 if self.high < 0 else 0)

    def text(self, digits: int = 2) -> str:
        """E.g. ``"+0.42 [-0.10, +0.94] (3 seeds)"``; ``"+0.42 (1 seed, no interval)"``."""
        if self.sign is None:
            return f"{self.mean:+.{digits}f} ({self.n} seed{'s' if self.n != 1 else ''}, no interval)"
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}] ({self.n} seeds)"


def paired_difference(a: Mapping[int, float], b: Mapping[int, float], level: float = LEVEL) -> PairedDifference:
    """A - B paired on the seeds both have (module docstring); raises if they share none."""
    seeds = tuple(sorted(set(a) & set(b)))
    if not seeds:
        raise ValueError(f"no common seed to pair on: A has seeds {sorted(a)}, B has {sorted(b)}")
    d = np.array([a[s] - b[s] for s in seeds], dtype=float)
    mean = float(d.mean())
    if len(d) < 2:
        return PairedDifference(mean, float("nan"), float("nan"), seeds, level)
    half = float(stats.t.ppf(1 - (1 - level) / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return PairedDifference(mean, mean - half, mean + half, seeds, level)


def mean_interval(values: Mapping[int, float], level: float = LEVEL) -> PairedDifference:
    """The mean of per-seed ``values`` with its t interval (a paired difference against zero)."""
    return paired_difference(values, dict.fromkeys(values, 0.0), level)
