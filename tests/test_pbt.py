"""Population-based training of the LS weights: the explore step keeps the simplex, and a smoke
search with a population of 4 finishes, exploits, and repeats exactly with the same seed."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from autoscale.experiments.pbt import PBTConfig, load_pbt, perturb_weights, run_pbt
from autoscale.experiments.store import RunStore


@pytest.mark.parametrize("weights", [[1.0, 1.0], [0.2, 1.8], [0.5, 0.0, 2.5], [0.3, 2.66, 0.47, 0.57]])
def test_perturbation_stays_on_the_simplex_within_its_factor(weights):
    rng = random.Random(0)
    for _ in range(200):
        new = perturb_weights(weights, 1.2, rng)
        assert sum(new) == pytest.approx(len(weights)) and min(new) >= 0
        assert [w == 0 for w in new] == [w == 0 for w in weights]  # a switched-off task stays off
        # Renormalising keeps ratios: between two tasks the log ratio moves by at most 2 log 1.2.
        pairs = [(i, j) for i in range(len(weights)) for j in range(len(weights)) if weights[i] and weights[j]]
        for i, j in pairs:
            moved = math.log(new[i] / new[j]) - math.log(weights[i] / weights[j])
            assert abs(moved) <= 2 * math.log(1.2) + 1e-12
    assert perturb_weights([1.0, 1.0], 1.2, random.Random(1)) != [1.0, 1.0]


def test_a_smoke_search_exploits_keeps_the_simplex_and_repeats(tmp_path: Path):
    # Quantile 0.5: two donors to choose from, so the repeat also checks that the draw is seeded.
    config = PBTConfig("multimnist", "smoke", population=4, ready_epochs=1, epochs=2, quantile=0.5)
    first = run_pbt(config, RunStore(tmp_path / "a"))
    assert {r["member"] for r in first["final"]} == {0, 1, 2, 3}
    assert all(r["epoch"] == 2 for r in first["final"])
    assert first["exploits"] == 2  # the bottom half copies the top half once, after epoch 1
    # One report per member and epoch: an exploited member keeps its reports from before the copy.
    assert [(r["member"], r["epoch"]) for r in first["reports"]] == [(m, e) for m in range(4) for e in (1, 2)]
    for row in first["reports"]:
        assert sum(row["weights"]) == pytest.approx(2.0) and min(row["weights"]) >= 0
    copied = [r for r in first["reports"] if r["copied_from"] is not None]
    assert all(r["copied_from"] != r["member"] for r in copied)
    assert first["best"]["val_delta_m"] == min(r["val_delta_m"] for r in first["final"])
    assert load_pbt(config, RunStore(tmp_path / "a")) == first  # stored beside the run records
    again = run_pbt(config, RunStore(tmp_path / "b"))
    for key in ("reports", "final", "best", "exploits", "initial_weights"):
        assert again[key] == first[key], key
