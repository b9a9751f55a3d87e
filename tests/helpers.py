"""Small models and fake run records shared by several test modules (importable: pytest puts tests/ on
sys.path)."""

from __future__ import annotations

from torch import nn

from autoscale.experiments.run_record import RunRecord


def small_cnn() -> nn.Module:
    """A two-conv encoder with BatchNorm for 1x12x12 inputs; representation (B, 8)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 3 * 3, 8),
    )


TASKS = {
    "a": {"primary": "acc", "higher_is_better": {"acc": True}},
    "b": {"primary": "err", "higher_is_better": {"err": False}},
}


def record(
    method="linear", seed=0, test=None, val=None, weights=None, step_s=0.01, metrics=None, tasks=TASKS, switch=None
):
    """A run record with only the fields the tables read (AutoScale's from ``switch`` on)."""
    test = test or {"a": 50.0, "b": 2.0}
    val = val or test
    final = {
        split: {t: {tasks[t]["primary"]: v} for t, v in values.items()}
        for split, values in (("test", test), ("val", val))
    }
    options = {"weights": weights} if weights is not None else {}
    autoscale = {
        "window_steps": [],
        "window_weights": [],
        "final_weights": None,
        "switch_step": switch,
        "config": {"window": 1, "gamma": 0.5},
    }
    return RunRecord(
        {
            "config": {"method": method, "seed": seed, "method_options": options, "metrics_every": 1},
            "tasks": {t: tasks[t] for t in test},
            "final": final,
            "median_step_time_s": step_s,
            "steps": {"time_s": [step_s] * 10},
            "metrics": metrics or {},
            "method": {} if switch is None else autoscale,
        }
    )
