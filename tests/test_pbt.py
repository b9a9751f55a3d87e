"""Population-based training of the LS weights: the explore step keeps the simplex, and a smoke
search with a population of 4 finishes, exploits, and repeats exactly with the same seed."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from autoscale.experiments.pbt import (
    load_pbt,
    member_resources,
    perturb_weights,
    result_path,
    run_pbt,
)
from autoscale.experiments.plans import PBTConfig, book_search_configs
from autoscale.experiments.store import RecordWarning, RunStore


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


def test_the_key_names_committed_results_and_leaves_the_device_out():
    # The committed cpu search of MultiMNIST, seed 0, is stored under this key: a change to the
    # hashing would orphan every committed PBT result.
    config = PBTConfig("multimnist", "cpu", population=8, ready_epochs=2, seed=0)
    assert config.key() == "7512561e3321374e"
    assert PBTConfig("multimnist", "cpu", population=8, ready_epochs=2, seed=0, device="cuda").key() == config.key()
    assert book_search_configs("multimnist", "cpu") == [
        PBTConfig("multimnist", "cpu", population=8, ready_epochs=2, seed=s) for s in (0, 1, 2)
    ]
    # Scenes at cpu have 4 epochs: a ready interval of 1 (max(1, 4 // 5)).
    assert {c.ready_epochs for c in book_search_configs("scenes-street", "cpu")} == {1}


def test_members_reserve_one_cpu_and_on_cuda_a_share_of_the_gpu():
    cpu = PBTConfig("multimnist", "cpu", population=8)
    assert member_resources(cpu) == {"cpu": 1}
    cuda = PBTConfig("multimnist", "full", population=8, device="cuda")
    assert member_resources(cuda) == {"cpu": 1, "gpu": 0.125}
    assert member_resources(cuda, 0.5) == {"cpu": 1, "gpu": 0.5}
    with pytest.raises(ValueError, match="needs device='cuda'"):
        member_resources(cpu, 0.25)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        member_resources(cuda, 2.0)


def test_a_damaged_result_is_named_moved_aside_and_searched_again(tmp_path: Path):
    store = RunStore(tmp_path)
    config = PBTConfig("multimnist", "smoke", population=4)
    path = result_path(store, config)
    path.parent.mkdir(parents=True)
    path.write_text('{"reports": [')  # truncated
    with pytest.warns(RecordWarning, match=r"damaged .*moved to .*corrupt.*search will run again"):
        assert load_pbt(config, store) is None
    assert not path.exists()
    assert len(list((tmp_path / "smoke" / "corrupt").glob("pbt-*.json"))) == 1
    path.write_text('{"something": 1}')
    with pytest.warns(RecordWarning, match="not a PBT result"):
        assert load_pbt(config, store) is None
