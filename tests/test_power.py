"""The power of the paired t interval, against published tables and closed forms, and the frozen estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from autoscale.book import power


@pytest.mark.parametrize(("effect", "seeds"), [(1.0, 10), (0.8, 15), (0.5, 34)])
def test_required_seeds_match_the_published_tables(effect: float, seeds: int) -> None:
    # One-sample (paired) two-sided t test at 5% with 80% power, Cohen's d = effect: n = 10, 15, 34
    # (G*Power; Cohen 1988, Table 2.4.1 read for the one-sample case).
    assert power.required_seeds(effect, 1.0) == seeds
    assert power.required_seeds(3 * effect, 3.0) == seeds  # only δ / σ_d matters


def test_power_is_the_normal_approximation_for_many_seeds() -> None:
    # For large n the noncentral t tends to a normal: power ≈ Φ(δ√n/σ - z_{0.975}) + Φ(-δ√n/σ - z_{0.975}).
    n, delta, sd = 400, 0.2, 1.0
    z = stats.norm.ppf(0.975)
    shift = delta * math.sqrt(n) / sd
    assert power.paired_power(delta, sd, n) == pytest.approx(
        stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z), abs=2e-3
    )
    assert power.paired_power(0.0, sd, 50) == pytest.approx(0.05, abs=1e-9)  # the test's size
    assert power.paired_power(1.0, 1.0, 1) == 0.0


def test_resolvable_difference_inverts_the_power() -> None:
    for n in (3, 5, 11):
        delta = power.resolvable_difference(2.0, n)
        assert power.paired_power(delta, 2.0, n) == pytest.approx(power.POWER, abs=1e-8)
        assert power.required_seeds(delta * 1.001, 2.0) <= n < power.required_seeds(delta * 0.95, 2.0) + 1
    assert math.isnan(power.resolvable_difference(1.0, 1))


def test_paired_sd_of_two_rows_is_the_sd_of_their_differences() -> None:
    a = {0: 1.0, 1: 2.5, 2: 0.3, 3: 1.9}
    b = {0: 0.2, 1: 2.0, 2: 1.1, 3: 1.0}
    sd, df = power.paired_sd({"a": a, "b": b})
    assert df == 3
    assert sd == pytest.approx(np.std([a[s] - b[s] for s in a], ddof=1))


def test_paired_sd_ignores_row_and_seed_effects() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(4, 5))
    base = {f"r{i}": {s: float(noise[i, s]) for s in range(5)} for i in range(4)}
    shifted = {f"r{i}": {s: float(noise[i, s] + 3 * i - 2 * s) for s in range(5)} for i in range(4)}
    assert power.paired_sd(shifted) == pytest.approx(power.paired_sd(base))


def test_paired_sd_refuses_rows_on_different_seeds() -> None:
    with pytest.raises(ValueError, match="same seeds"):
        power.paired_sd({"a": {0: 1.0, 1: 2.0}, "b": {0: 1.0, 2: 2.0}})


def test_the_frozen_estimate_rederives_from_its_own_table() -> None:
    estimate = power.read_estimate()
    assert set(estimate["benchmarks"]) == set(power.power_targets())
    for entry in estimate["benchmarks"].values():
        table = {row: {int(s): v for s, v in by_seed.items()} for row, by_seed in entry["delta_m"].items()}
        sd, df = power.paired_sd(table)
        assert (sd, df) == (pytest.approx(entry["paired_sd"]), entry["df"])
        assert power.required_seeds(entry["target_difference"], sd) == entry["required_seeds"]


def test_the_seed_table_gives_what_the_seeds_trained_resolve() -> None:
    estimate = power.read_estimate()
    needed = estimate["benchmarks"]["multimnist"]["required_seeds"]
    table = power.seed_table(estimate, {"multimnist": needed, "scenes-street": 5})
    street = estimate["benchmarks"]["scenes-street"]
    assert table.loc["scenes-street", "seeds needed"] == street["required_seeds"]
    assert table.loc["scenes-street", "resolvable at the seeds trained"] == pytest.approx(
        power.resolvable_difference(street["paired_sd"], 5)
    )
    # The seeds the estimate asks for resolve at most the target difference.
    assert table.loc["multimnist", "resolvable at the seeds trained"] <= power.power_targets()["multimnist"].difference
    assert math.isnan(table.loc["scenes-indoor", "resolvable at the seeds trained"])
    calibration = power.calibration_table(estimate)
    assert calibration.loc["Kurin et al. 2022 (10 runs per method)"].tolist() == [0.2, 0.44]
