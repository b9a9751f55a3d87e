"""Library code of the "MTO metrics" chapter: the gradient-inspection helpers
(:mod:`autoscale.book.inspect_gradients`) against hand values and the trainer, and the figures
(:mod:`autoscale.book.plots.metrics`) build with the expected panels."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from autoscale.book.inspect_gradients import (
    default_window,
    gradient_snapshot,
    metrics_over_weights,
    step_metrics,
    training_batch,
    window_loss_metrics,
)
from autoscale.book.plots.metrics import (
    plot_loss_windows,
    plot_run_metrics,
    plot_training_issues,
    plot_weight_dependence,
)
from autoscale.book.toy import training_issue_problems
from autoscale.experiments.run_record import RunRecord
from autoscale.gramian import naive_gramian
from autoscale.training.config import RunConfig
from autoscale.training.tasks import stack_losses
from autoscale.training.trainer import Trainer

# g_1 = (3, 0), g_2 = (0, 1): orthogonal, norms 3 and 1.
GRAMIAN = torch.tensor([[9.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
LOSSES = torch.tensor([1.0, 3.0], dtype=torch.float64)
L0 = torch.tensor([2.0, 3.0], dtype=torch.float64)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_step_metrics_hand_values() -> None:
    m = step_metrics(GRAMIAN, LOSSES, L0)
    assert m["gms"] == pytest.approx(2 * 3 / (9 + 1))
    assert m["magnitude_ratio"] == pytest.approx(1 / 3)
    assert m["cos"] == pytest.approx(0.0)
    assert m["cond"] == pytest.approx(3.0) and m["cond_raw"] == pytest.approx(3.0)
    assert m["grad_norm_0"] == pytest.approx(3.0)
    assert m["rgm_0"] == pytest.approx(1.5)
    # u = g_1 + g_2 = (3, 1): cos(g_1, u) = 3 / sqrt(10), projection of u on g_2 / |g_2| = 1.
    assert m["cos_update_0"] == pytest.approx(3 / math.sqrt(10))
    assert m["cos_mean_0"] == pytest.approx(3 / math.sqrt(10))
    assert m["projected_magnitude_1"] == pytest.approx(1.0)
    assert m["itr_0"] == pytest.approx(0.5)
    assert m["relative_itr_0"] == pytest.approx(2 * 0.5 / 1.5)
    assert m["rls_1"] == pytest.approx(0.75)
    # The spreads summarize_step logs are the population stds of the per-task values.
    assert m["rls_std"] == pytest.approx(0.25) and m["rgm_std"] == pytest.approx(0.5)


def test_step_metrics_with_weights_equalising_the_gradients() -> None:
    m = step_metrics(GRAMIAN, LOSSES, L0, w=[1 / 3, 1.0])
    assert m["gms"] == pytest.approx(1.0) and m["gms_raw"] == pytest.approx(0.6)
    assert m["magnitude_ratio"] == pytest.approx(1.0)
    assert m["cond"] == pytest.approx(1.0) and m["cond_raw"] == pytest.approx(3.0)
    assert m["cos"] == pytest.approx(0.0)
    assert m["rls_0"] == pytest.approx((1 / 3) / (1 / 3 + 3))


def test_metrics_over_weights_separates_invariant_from_weight_dependent() -> None:
    gram = torch.tensor([[4.0, -1.0], [-1.0, 1.0]], dtype=torch.float64)
    table = metrics_over_weights(gram, LOSSES, L0, [[1.0, 1.0], [0.5, 1.5], [1.5, 0.5]])
    assert list(table.index) == [(1.0, 1.0), (0.5, 1.5), (1.5, 0.5)]
    assert not any(c.endswith("_raw") or c.startswith(("loss_", "grad_norm_", "weight_")) for c in table.columns)
    for invariant in ("cos", "itr_std", "itr_0"):
        assert table[invariant].nunique() == 1
    for dependent in ("gms", "cond", "rls_std", "rgm_std", "cos_update_0"):
        assert table[dependent].nunique() == 3
    # w = (0.5, 1.5) makes the weighted norms 1 and 1.5.
    assert table.loc[(0.5, 1.5), "gms"] == pytest.approx(2 * 1.5 / (1 + 2.25))


def test_window_loss_metrics_hand_values() -> None:
    losses = np.array([[4.0, 1.0], [2.0, 1.0], [2.0, 3.0], [2.0, 1.0], [9.0, 9.0]])
    out = window_loss_metrics(losses, window=2)
    np.testing.assert_allclose(out["step"], [0.5, 2.5])
    np.testing.assert_allclose(out["mean"], [[3.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(out["variance"], [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(out["improvement_ratio"], [[2 / 3, 2.0]])
    np.testing.assert_allclose(out["descending_rate"], [[1 / 3, -1.0]])
    with pytest.raises(ValueError, match="fewer than 2 windows"):
        window_loss_metrics(losses, window=3)


@pytest.mark.parametrize(("steps", "window"), [(8, 2), (160, 20), (7050, 50), (3, 2)])
def test_default_window(steps: int, window: int) -> None:
    assert default_window(steps) == window


@pytest.fixture(scope="module")
def tiny_record_and_trainer() -> tuple[dict, Trainer]:
    config = RunConfig(
        epochs=1,
        batch_size=32,
        metrics_every=1,
        method="linear",
        method_options={"weights": [1.5, 0.5]},
        data={"sizes": {"train": 128, "val": 64, "test": 64}},
    )
    trainer = Trainer(config, progress=False)
    return trainer.run(), trainer


def test_gradient_snapshot_matches_the_reference_gramian(tiny_record_and_trainer) -> None:
    _, trainer = tiny_record_and_trainer
    batch = training_batch(trainer, index=1)
    assert len(batch[0]) == 32
    snap = gradient_snapshot(trainer, batch)
    x, targets = batch
    losses = stack_losses(trainer.tasks, trainer.model(x), targets)
    torch.testing.assert_close(snap["losses"], losses.detach())
    torch.testing.assert_close(
        snap["gramian"], naive_gramian(losses, trainer.model.shared_parameters()), rtol=1e-4, atol=1e-7
    )
    with pytest.raises(IndexError):
        training_batch(trainer, index=4)


def test_figures_have_the_expected_panels(tiny_record_and_trainer) -> None:
    record, trainer = tiny_record_and_trainer
    problems = training_issue_problems()
    fig = plot_training_issues(problems)
    assert len(fig.axes) == 3 * len(problems)
    table = metrics_over_weights(GRAMIAN, LOSSES, L0, [[w, 2 - w] for w in (0.5, 1.0, 1.5)])
    fig = plot_weight_dependence({"x": table, "y": table})
    assert len(fig.axes) == 4
    fig = plot_run_metrics(RunRecord(record))
    assert len(fig.axes) == 8
    # Non-uniform weights: the raw GMS is drawn next to the weighted one.
    assert len(fig.axes[3].lines) == 2
    window = default_window(record["total_steps"])
    fig = plot_loss_windows(window_loss_metrics(record["steps"]["loss"], window), trainer.task_names, window)
    assert len(fig.axes) == 3
