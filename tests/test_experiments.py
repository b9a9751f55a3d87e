"""Profiles, config hashing, the run store, sweeps and weight grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autoscale import experiments
from autoscale.experiments import (
    RunStore,
    check_parameters,
    config_hash,
    linear_weight_grid,
    profile_config,
    run,
    sweep,
)

TINY = {"sizes": {"train": 128, "val": 64, "test": 64}}


def tiny(**kw):
    return profile_config("multimnist", "smoke", data=TINY, metrics_every=0, **kw)


def test_hash_ignores_labels_but_not_settings():
    a = tiny()
    assert (
        config_hash(a)
        == config_hash(tiny(device="cuda"))
        == config_hash(
            profile_config(
                "multimnist", "cpu", **{k: v for k, v in a.to_dict().items() if k not in ("benchmark", "profile")}
            )
        )
    )
    assert config_hash(a) != config_hash(tiny(lr=0.5))
    assert config_hash(a) != config_hash(tiny(seed=1))


def test_unknown_profile_and_benchmark():
    with pytest.raises(ValueError, match="smoke, cpu, full"):
        profile_config("multimnist", "huge")
    with pytest.raises(ValueError, match="multimnist"):
        profile_config("imagenet", "cpu")


def test_run_reuses_the_stored_record(results_root: Path, monkeypatch: pytest.MonkeyPatch):
    store = RunStore()
    config = tiny()
    record = run(config, store, progress=False)
    assert store.path(config).is_file() and not store.checkpoint_path(config).exists()

    def fail(*args, **kwargs):
        raise AssertionError("should not retrain")

    monkeypatch.setattr(experiments, "Trainer", fail)
    assert run(config, store, progress=False) == record


def test_interrupted_sweep_resumes_without_redoing_finished_runs(results_root: Path, monkeypatch):
    store = RunStore()
    configs = [tiny(seed=s) for s in range(3)]
    trained = []
    real_trainer = experiments.Trainer

    class Counting(real_trainer):
        def run(self, *args, **kwargs):
            trained.append(self.config.seed)
            if self.config.seed == 1 and trained.count(1) == 1:
                raise KeyboardInterrupt
            return super().run(*args, **kwargs)

    monkeypatch.setattr(experiments, "Trainer", Counting)
    with pytest.raises(KeyboardInterrupt):
        sweep(configs, store, progress=False)
    assert store.path(configs[0]).is_file() and not store.path(configs[1]).exists()
    records = sweep(configs, store, progress=False)
    assert trained == [0, 1, 1, 2]
    assert [r["config"]["seed"] for r in records] == [0, 1, 2]


@pytest.mark.parametrize("k,n", [(2, 19), (3, 19), (4, 7)])
def test_weight_grid(k, n):
    grid = linear_weight_grid(k, n)
    assert len(grid) == n and grid == linear_weight_grid(k, n)
    w = np.array(grid)
    np.testing.assert_allclose(w.sum(axis=1), k, atol=1e-5)
    assert (w > 0).all()
    assert len({tuple(row) for row in grid}) == n
    if k == 2:
        np.testing.assert_allclose(np.diff(w[:, 0]), 2 / (n + 1), atol=1e-6)
        assert [1.0, 1.0] in grid if n % 2 else True
    else:
        assert grid[0] == [1.0] * k


def test_check_parameters_errors():
    check_parameters(profile="cpu", device="cuda", seeds=[0, 1], force=False, n_weights=3)
    with pytest.raises(ValueError, match="smoke, cpu, full"):
        check_parameters(profile="fast")
    with pytest.raises(TypeError, match="list of integers"):
        check_parameters(seeds="0,1")
    with pytest.raises(TypeError, match="True or False"):
        check_parameters(force="yes")
    with pytest.raises(TypeError, match="positive integer"):
        check_parameters(n_weights=2.5)
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        check_parameters(device="gpu")
