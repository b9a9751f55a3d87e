"""The toy problems of the "MTO metrics" chapter show the issue they are built for, with the
values derived by hand in the docstring of :mod:`autoscale.book.toy`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autoscale import metrics
from autoscale.book.toy import QuadraticTask, ToyProblem, issue_metrics, issue_table, training_issue_problems, unit


@pytest.fixture(scope="module")
def issues() -> dict[str, dict]:
    return {name: issue_metrics(p, p.run()) for name, p in training_issue_problems().items()}


def test_quadratic_task_gradient_matches_finite_differences() -> None:
    task = QuadraticTask(np.array([1.0, -2.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), offset=3.0)
    theta, eps = np.array([0.3, 0.7]), 1e-6
    numeric = [(task.loss(theta + eps * e) - task.loss(theta - eps * e)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(task.gradient(theta), numeric, rtol=1e-6)
    assert task.loss(task.center) == pytest.approx(3.0)
    # Vectorised over a grid, as the contour plot uses it.
    grid = np.zeros((4, 5, 2))
    assert task.loss(grid).shape == (4, 5)


def test_run_is_gradient_descent_on_the_weighted_sum() -> None:
    problem = ToyProblem(
        "t",
        "t",
        "gms",
        (QuadraticTask(np.array([1.0, 0.0])), QuadraticTask(np.array([0.0, 1.0]))),
        weights=(1.0, 3.0),
        lr=0.1,
        steps=3,
    )
    traj = problem.run()
    assert traj.thetas.shape == (4, 2) and traj.losses.shape == (4, 2) and traj.gradients.shape == (4, 2, 2)
    expected = traj.thetas[0] - 0.1 * (1.0 * traj.gradients[0, 0] + 3.0 * traj.gradients[0, 1])
    np.testing.assert_allclose(traj.thetas[1], expected)
    np.testing.assert_allclose(traj.updates[:-1], np.diff(traj.thetas, axis=0))
    g = traj.gradients[2]
    np.testing.assert_allclose(traj.gramians[2].numpy(), g @ g.T)


def test_balanced_reference(issues: dict) -> None:
    m = issues["balanced"]
    assert m["gms"] == pytest.approx(1.0)
    assert m["cos"] == pytest.approx(math.cos(math.radians(50)))
    np.testing.assert_allclose(m["rls"], [0.5, 0.5])
    np.testing.assert_allclose(m["relative_itr"], [1.0, 1.0])


def test_dominance_has_low_gms_and_unchanged_cosine(issues: dict) -> None:
    m = issues["dominance"]
    # |g_1| = 20, |g_2| = 2: GMS = 2*20*2 / (400 + 4) = 20/101.
    assert m["gms"] == pytest.approx(20 / 101)
    assert m["cos"] == pytest.approx(issues["balanced"]["cos"])
    # The dominated task is served last: it trains far slower than the dominating one.
    assert m["relative_itr"][1] > 1.9


def test_conflict_has_negative_cosine(issues: dict) -> None:
    m = issues["conflict"]
    assert m["cos"] == pytest.approx(-math.sqrt(3) / 2)
    assert m["gms"] == pytest.approx(1.0)
    # The short update leaves both losses close to where they started.
    assert (m["itr"] > 0.9).all()


def test_convergence_speed_matches_the_per_coordinate_decay(issues: dict) -> None:
    problem = training_issue_problems()["convergence"]
    m = issues["convergence"]
    # Separate coordinates: distance to each optimum shrinks by (1 - lr h_i) per step, the loss
    # by its square; both losses start at 2.
    expected = np.array([(1 - problem.lr * 1.0) ** (2 * problem.steps), (1 - problem.lr * 0.25) ** (2 * problem.steps)])
    np.testing.assert_allclose(m["itr"], expected, rtol=1e-10)
    np.testing.assert_allclose(m["rls"], [0.5, 0.5])
    assert m["cos"] == pytest.approx(0.0, abs=1e-12)
    assert m["relative_itr"][0] < 0.1 < 1.9 < m["relative_itr"][1]


def test_loss_scale_changes_losses_but_not_gradients(issues: dict) -> None:
    problems = training_issue_problems()
    m = issues["loss_scale"]
    np.testing.assert_allclose(m["rls"], [1 / 11, 10 / 11])
    assert m["gms"] == pytest.approx(1.0)
    np.testing.assert_allclose(problems["loss_scale"].run().gradients, problems["balanced"].run().gradients)


def test_issue_metrics_uses_the_weighted_gradients() -> None:
    reference = training_issue_problems()["balanced"]
    reweighted = ToyProblem("w", "w", "gms", reference.tasks, weights=(3.0, 1.0))
    m = issue_metrics(reweighted, reweighted.run())
    # Equal raw norms weighted 3:1 give the GMS of a 3:1 magnitude ratio; cosine is unchanged.
    assert m["gms"] == pytest.approx(2 * 3 / (9 + 1))
    assert m["cos"] == pytest.approx(math.cos(math.radians(50)))
    np.testing.assert_allclose(m["rls"], [0.75, 0.25])


def test_issue_table_and_problem_set() -> None:
    problems = training_issue_problems()
    assert list(problems) == ["balanced", "dominance", "conflict", "convergence", "loss_scale"]
    assert all(p.metric in ("gms", "cos", "rls", "relative_itr") for p in problems.values())
    table = issue_table(problems)
    assert list(table.index) == list(problems)
    assert table.loc["dominance", "GMS"] == pytest.approx(20 / 101)


def test_unit_and_gramian_dtype() -> None:
    np.testing.assert_allclose(unit(90), [0.0, 1.0], atol=1e-15)
    traj = training_issue_problems()["balanced"].run()
    assert traj.gramians.dtype == torch.float64
    assert metrics.condition_number(traj.gramians[0]).item() > 1
