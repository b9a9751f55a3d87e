"""The typed view of a run record (:class:`autoscale.experiments.run_record.RunRecord`): hand-built
records with known answers, and a real AutoScale run whose trace must follow the method's
definitions (switch at ⌊αT⌋, one window weight per τ steps before it, ŵ summing to K)."""

from __future__ import annotations

import numpy as np
import pytest

from autoscale.experiments.run_record import RunRecord, run_records
from autoscale.training.config import RunConfig
from autoscale.training.trainer import Trainer


def ls_record() -> dict:
    return {
        "config": {
            "method": "linear",
            "method_options": {"weights": [0.5, 1.5]},
            "seed": 3,
            "profile": "cpu",
            "metrics_every": 2,
        },
        "tasks": {
            "left": {"primary": "acc", "higher_is_better": {"acc": True, "ce": False}},
            "right": {"primary": "ce", "higher_is_better": {"acc": True, "ce": False}},
        },
        "total_steps": 4,
        "epochs": [{"step": 2}, {"step": 4}],
        "final": {
            "val": {"left": {"acc": 90.0, "ce": 0.3}, "right": {"acc": 80.0, "ce": 0.5}},
            "test": {"left": {"acc": 91.0, "ce": 0.2}, "right": {"acc": 81.0, "ce": 0.4}},
        },
        "steps": {"loss": [[1.0, 2.0]] * 4, "weights": [[0.5, 1.5]] * 4, "time_s": [0.25, 0.5, 0.125, 0.125]},
        "metrics": {"step": [0, 2], "gms": [0.5, float("nan")], "cond": [2.0, 4.0]},
        "method": {},
        "device": "cpu: x86_64, 1 threads",
        "git_commit": "abc",
    }


def test_accessors_of_a_linear_scalarization_record() -> None:
    record = RunRecord(ls_record())
    assert (record.seed, record.profile, record.metrics_every) == (3, "cpu", 2)
    assert record.weights == (0.5, 1.5)
    assert record.task_names == ["left", "right"]
    assert record.primary_metric_names == {"left": "acc", "right": "ce"}
    assert record.metrics("test") == {"left": 91.0, "right": 0.4}
    assert record.metrics("val") == {"left": 90.0, "right": 0.5}
    assert record.total_steps == 4 and record.epoch_steps.tolist() == [2, 4]
    assert record.step_losses.shape == (4, 2) and record.step_weights[0].tolist() == [0.5, 1.5]
    assert record.train_step_seconds == 1.0
    assert record.metric_steps.tolist() == [0, 2]
    np.testing.assert_array_equal(record.trajectory("gms"), [0.5, np.nan])
    assert record.autoscale is None
    assert record.config_hash is None and record.device.startswith("cpu") and record.git_commit == "abc"


def test_missing_fields_are_named() -> None:
    record = RunRecord(ls_record())
    with pytest.raises(KeyError, match="metrics_every = 2"):
        record.trajectory("rls_std")
    unitary = ls_record()
    unitary["config"].update(method="unitary", method_options={})
    with pytest.raises(ValueError, match="'unitary' has no fixed weights"):
        _ = RunRecord(unitary).weights


def test_of_wraps_dicts_once() -> None:
    data = ls_record()
    record = RunRecord.of(data)
    assert RunRecord.of(record) is record and record.data is data
    assert [r.data for r in run_records([data, data])] == [data, data]


def test_autoscale_trace_follows_the_method() -> None:
    # 256 images in batches of 16: T = 16 steps; α = 0.5 switches at step 8 after four windows of τ = 2.
    config = RunConfig(
        epochs=1,
        batch_size=16,
        method="autoscale",
        method_options={"alpha": 0.5, "window": 2},
        data={"sizes": {"train": 256, "val": 32, "test": 32}},
    )
    record = RunRecord(Trainer(config, progress=False).run())
    trace = record.autoscale
    assert record.total_steps == 16 and trace.switch_step == 8
    assert trace.window == 2 and trace.gamma == 0.5
    np.testing.assert_allclose(trace.window_steps, [0.5, 2.5, 4.5, 6.5])  # window midpoints
    assert trace.window_weights.shape == (4, 2)
    assert trace.final_weights.sum() == pytest.approx(2.0)  # LS weights sum to K
    # After the switch the run trains with ŵ (float32 in the per-step record).
    np.testing.assert_allclose(record.step_weights[8:], np.tile(trace.final_weights, (8, 1)), rtol=1e-6)
