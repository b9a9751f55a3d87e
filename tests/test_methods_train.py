"""Every registered method trains end to end on MultiMNIST through the trainer."""

from __future__ import annotations

import math

import pytest

from autoscale.methods import available_methods
from autoscale.training.config import RunConfig
from autoscale.training.trainer import train

OPTIONS = {"linear": {"weights": [0.7, 1.3]}, "autoscale": {"window": 2, "alpha": 0.5}}


@pytest.mark.parametrize("method", available_methods())
def test_method_trains_and_logs_metrics(method: str):
    config = RunConfig(
        method=method,
        method_options=OPTIONS.get(method, {}),
        epochs=2,
        batch_size=32,
        lr=3e-3,
        metrics_every=2,
        data={"sizes": {"train": 128, "val": 32, "test": 32}},
    )
    record = train(config, progress=False)
    assert record["complete"] and record["total_steps"] == 8
    weights = record["steps"]["weights"]
    assert len(weights) == 8 and all(len(w) == 2 and all(math.isfinite(v) for v in w) for w in weights)
    metrics = record["metrics"]
    assert metrics["step"] == [0, 2, 4, 6]
    for key in ("gms", "cos", "cond", "itr_std", "rls_std"):
        assert len(metrics[key]) == 4, key
    assert all(0.0 <= g <= 1.0 for g in metrics["gms"])
    assert all(math.isfinite(sum(e["train_loss"].values())) for e in record["epochs"])
