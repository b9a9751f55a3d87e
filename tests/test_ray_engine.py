"""The Ray engine: the same records as the local engine, a dead worker retried once and reported,
failures named while the other runs are kept. A real local Ray instance (2 CPUs) runs the tasks."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
import ray
import torch

from autoscale.experiments.profiles import profile_config
from autoscale.experiments.ray_engine import RayEngine, sweep_ray, train_record
from autoscale.experiments.runs import sweep
from autoscale.experiments.store import RunStore
from autoscale.experiments.verify import differences


@pytest.fixture(scope="module")
def local_ray(data_root: Path):
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"AUTOSCALE_DATA_ROOT": str(data_root), "AUTOSCALE_GIT_COMMIT": "test"}},
    )
    yield
    ray.shutdown()


def _configs():
    base = replace(profile_config("multimnist", "smoke"), data={"sizes": {"train": 128, "val": 64, "test": 64}})
    return [
        replace(base, method="unitary", seed=0),
        replace(base, method="imtlg", seed=1),
        replace(base, method="autoscale", method_options={"alpha": 0.5, "window": 2}, seed=2),
    ]


def test_ray_records_are_the_local_engines(local_ray, tmp_path: Path):
    configs = _configs()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a Ray task trains with one thread; CPU kernels round by thread count
    try:
        local = sweep(configs, RunStore(tmp_path / "local"), progress=False, workers=1)
    finally:
        torch.set_num_threads(threads)
    store = RunStore(tmp_path / "ray")
    remote = sweep(configs, store, progress=False, engine=RayEngine())
    for config, a, b in zip(configs, local, remote, strict=True):
        assert list(differences(a, b)) == [], config.method
        assert store.load(config) == b  # written to the driver's store, with its manifest entry
    assert len(store.manifest("smoke")) == len(configs)
    # Everything stored is skipped: no task, not even Ray, is needed again.
    assert sweep_ray(configs, store, progress=False, train=_never_called) == remote


def _never_called(config):
    raise AssertionError("a stored run was trained again")


def test_a_dead_worker_is_retried_once_and_reported(local_ray, tmp_path: Path, capsys):
    marker = tmp_path / "died-once"

    def dies_once(config):
        if config["seed"] == 1 and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies, as if killed
        return train_record(config)

    store = RunStore(tmp_path / "ray")
    records = sweep_ray(_configs(), store, progress=False, train=dies_once)
    assert marker.exists() and all(r["complete"] for r in records)
    out = capsys.readouterr().out
    assert "multimnist/imtlg" in out and "died" in out and "retrying" in out


def test_failures_are_named_and_the_other_runs_kept(local_ray, tmp_path: Path):
    def fails(config):
        if config["seed"] == 1:
            os._exit(1)  # dies every time: one retry, then reported
        if config["seed"] == 2:
            raise FloatingPointError("loss is NaN")  # the training's own error: not retried
        return train_record(config)

    store = RunStore(tmp_path / "ray")
    configs = _configs()
    with pytest.raises(RuntimeError, match="2 of 3 runs failed on Ray") as err:
        sweep_ray(configs, store, progress=False, train=fails)
    message = str(err.value)
    assert "imtlg" in message and "died 2 times" in message
    assert "autoscale" in message and "loss is NaN" in message
    assert store.load(configs[0]) is not None and store.load(configs[1]) is None


def test_engine_arguments():
    from autoscale.commands.arguments import engine_from
    from autoscale.commands.cli import parser

    args = parser().parse_args(["sweep", "--benchmark", "multimnist", "--engine", "ray", "--address", "auto"])
    assert engine_from(args) == RayEngine(address="auto")
    args = parser().parse_args(["records", "train", "--engine", "ray", "--gpus-per-run", "0.25"])
    assert engine_from(args) == RayEngine(gpus_per_run=0.25)
    assert engine_from(parser().parse_args(["sweep", "--benchmark", "multimnist"])) is None
    with pytest.raises(SystemExit, match="--engine ray only"):
        engine_from(parser().parse_args(["sweep", "--benchmark", "multimnist", "--address", "auto"]))
