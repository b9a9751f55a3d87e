"""Profiles, config hashing, the run store, sweeps and weight grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from autoscale.experiments import execute
from autoscale.experiments import runs as experiments
from autoscale.experiments.profiles import check_parameters, linear_weight_grid, profile_config
from autoscale.experiments.runs import run, sweep
from autoscale.experiments.store import RunStore, config_hash

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
    with pytest.raises(ValueError, match="smoke, cpu, cpu-long, full"):
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

    monkeypatch.setattr(execute, "Trainer", fail)
    assert run(config, store, progress=False) == record


def count_trainings(monkeypatch: pytest.MonkeyPatch, interrupt_seed: int | None = None) -> list[int]:
    """Make the sweep's Trainer log the seed of every run it trains into the returned list; the
    first run of ``interrupt_seed`` is interrupted (KeyboardInterrupt) before it trains."""
    trained: list[int] = []
    real_trainer = execute.Trainer

    class Counting(real_trainer):
        def run(self, *args, **kwargs):
            trained.append(self.config.seed)
            if self.config.seed == interrupt_seed and trained.count(interrupt_seed) == 1:
                raise KeyboardInterrupt
            return super().run(*args, **kwargs)

    monkeypatch.setattr(execute, "Trainer", Counting)
    return trained


def test_interrupted_sweep_resumes_without_redoing_finished_runs(results_root: Path, monkeypatch):
    store = RunStore()
    configs = [tiny(seed=s) for s in range(3)]
    trained = count_trainings(monkeypatch, interrupt_seed=1)
    with pytest.raises(KeyboardInterrupt):
        sweep(configs, store, progress=False, workers=1)
    assert store.path(configs[0]).is_file() and not store.path(configs[1]).exists()
    records = sweep(configs, store, progress=False, workers=1)
    assert trained == [0, 1, 1, 2]
    assert [r["config"]["seed"] for r in records] == [0, 1, 2]


def test_parallel_sweep_matches_one_thread_sequential_runs(results_root: Path):
    configs = [tiny(seed=0), tiny(seed=1), tiny(method="linear", method_options={"weights": [1.5, 0.5]})]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        expected = [run(c, RunStore(results_root / "sequential"), progress=False) for c in configs]
    finally:
        torch.set_num_threads(threads)
    stored = run(configs[0], RunStore(results_root / "parallel"), progress=False)
    records = sweep(configs, RunStore(results_root / "parallel"), progress=False, workers=2)
    assert records[0] == stored  # already stored: reused, not retrained
    for got, want in zip(records[1:], expected[1:], strict=True):
        assert got["config"] == want["config"]
        assert got["steps"]["loss"] == want["steps"]["loss"]
        assert got["final"]["test"] == want["final"]["test"]


def test_failed_worker_run_names_the_run_and_keeps_finished_ones(results_root: Path):
    store = RunStore()
    good, bad = tiny(seed=3), tiny(method="linear", method_options={"weights": [1.0, 1.0, 1.0]})
    with pytest.raises(RuntimeError, match=r"run linear .* failed in a worker"):
        sweep([good, bad], store, progress=False, workers=2)
    assert store.path(good).is_file() and not store.path(bad).exists()


def test_sweep_groups_trains_shared_configs_once(results_root: Path, monkeypatch: pytest.MonkeyPatch):
    trained = count_trainings(monkeypatch)
    shared, other = tiny(seed=5), tiny(seed=6)
    out = experiments.sweep_groups({"a": [shared, other], "b": [shared]}, RunStore(), progress=False, workers=1)
    assert sorted(trained) == [5, 6]
    assert out["a"][0] == out["b"][0] and out["a"][1]["config"]["seed"] == 6


def test_workers_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AUTOSCALE_WORKERS", "3")
    assert experiments.default_workers() == 3
    monkeypatch.setenv("AUTOSCALE_WORKERS", "two")
    with pytest.raises(ValueError, match="positive integer"):
        experiments.default_workers()


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
    with pytest.raises(ValueError, match="smoke, cpu, cpu-long, full"):
        check_parameters(profile="fast")
    with pytest.raises(TypeError, match="list of integers"):
        check_parameters(seeds="0,1")
    with pytest.raises(TypeError, match="True or False"):
        check_parameters(force="yes")
    with pytest.raises(TypeError, match="positive integer"):
        check_parameters(n_weights=2.5)
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        check_parameters(device="gpu")


def test_a_run_or_search_outside_a_chapters_plan_is_named(results_root: Path) -> None:
    from autoscale.experiments.plans import chapter_configs, chapter_searches, outside_chapter_plan

    store = RunStore(results_root)
    [planned] = chapter_configs("smoke", store=store)["mto_metrics"]
    run(planned, store, progress=False)
    assert outside_chapter_plan("mto_metrics", "smoke", store) == []
    assert outside_chapter_plan("ablations", "smoke", store) == ["1 run(s)"]  # not one of its runs
    search = chapter_searches("smoke")["weight_search"][0]
    (results_root / "smoke" / search.benchmark / "pbt").mkdir(parents=True)
    (results_root / "smoke" / search.benchmark / "pbt" / f"{search.key()}.json").write_text("{}")
    assert outside_chapter_plan("weight_search", "smoke", store) == ["1 run(s)"]
    assert outside_chapter_plan("mto_metrics", "smoke", store) == ["1 PBT search(es)"]


def test_copying_a_chapters_plan_copies_that_plan_only(results_root: Path, tmp_path: Path) -> None:
    """A store seeded with one chapter's plan holds nothing outside it, byte for byte as trained,
    listed in its manifest; another chapter's runs stay behind."""
    from autoscale.experiments.plan_copy import copy_chapter_plan
    from autoscale.experiments.plans import chapter_configs, outside_chapter_plan

    source = RunStore(results_root)
    [metric_run] = chapter_configs("smoke", store=source)["mto_metrics"]
    other = next(c for c in chapter_configs("smoke")["ablations"] if config_hash(c) != config_hash(metric_run))
    for config in (metric_run, other):
        run(config, source, progress=False)
    target = RunStore(tmp_path / "chapter")
    assert copy_chapter_plan("mto_metrics", "smoke", source, target) == 1
    assert target.path(metric_run).read_bytes() == source.path(metric_run).read_bytes()
    assert target.load(metric_run) == source.load(metric_run)
    assert set(target.manifest("smoke")) == {f"multimnist/{source.path(metric_run).name}"}
    assert outside_chapter_plan("mto_metrics", "smoke", target) == []
    assert not target.path(other).exists()
    assert copy_chapter_plan("capacity", "smoke", RunStore(tmp_path / "empty"), target) == 0
