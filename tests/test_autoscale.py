"""Tests of autoscale.autoscale: window costs and solver, predictors, the two-phase AutoScale method.

The truth here is independent of the implementation: costs are recomputed from explicit task
gradient vectors (the pair matrix A^t written out row by row, condition numbers from the singular
values of [w_1 g_1 ... w_K g_K]), optima are checked against brute-force searches, predictions
against closed forms.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy import optimize

from autoscale.methods import available_methods, build_method
from autoscale.methods import predictors as asc
from autoscale.methods.autoscale import AutoScale
from autoscale.methods.predictors import predict
from autoscale.methods.window import solve_window, window_cost

# ---------------------------------------------------------------------------------------------------
# Independent reference costs from explicit gradients g (tau, K, P)
# ---------------------------------------------------------------------------------------------------


def gramians_of(g: np.ndarray) -> np.ndarray:
    return np.einsum("tip,tjp->tij", g, g)


def ref_equal_cost(mags: np.ndarray, w: np.ndarray) -> np.ndarray:
    """mean_t ||A^t w|| with A^t built row by row (Eq. 2); mags (tau, K), w (M, K) -> (M,)."""
    tau, k = mags.shape
    total = np.zeros(len(w))
    for t in range(tau):
        rows = []
        for i, j in itertools.combinations(range(k), 2):
            row = np.zeros(k)
            row[i], row[j] = mags[t, i], -mags[t, j]
            rows.append(row)
        total += np.linalg.norm(w @ np.array(rows).T, axis=1)
    return total / tau


def ref_condition_cost(g: np.ndarray, w: np.ndarray) -> np.ndarray:
    """mean_t sigma_max / sigma_min of the P x K matrix [w_1 g_1 ... w_K g_K]; w (M, K) -> (M,)."""
    total = np.zeros(len(w))
    for t in range(g.shape[0]):
        cols = w[:, :, None] * g[t][None]  # (M, K, P): rows are the scaled gradients
        s = np.linalg.svd(cols, compute_uv=False)
        with np.errstate(divide="ignore"):
            total += s[:, 0] / s[:, -1]
    return total / g.shape[0]


def random_gradients(seed: int, k: int, tau: int = 4, dim: int = 6) -> np.ndarray:
    """Correlated task gradients with norms varying over tasks and steps."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(tau, 1, dim))
    g = rng.normal(size=(tau, k, dim)) + 0.7 * common
    return g * rng.uniform(0.3, 3.0, size=(1, k, 1)) * rng.uniform(0.7, 1.4, size=(tau, k, 1))


def simplex_grid(k: int, n: int) -> np.ndarray:
    """Points of {w >= 0, sum w = K} on a grid of spacing K/n (K <= 3)."""
    if k == 2:
        a = np.linspace(0, 1, n + 1)
        pts = np.stack([a, 1 - a], axis=1)
    else:
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        pts = np.stack([i[keep], j[keep], n - i[keep] - j[keep]], axis=1) / n
    return k * pts


def inverse_norm_weights(n: np.ndarray) -> np.ndarray:
    return len(n) * (1 / n) / (1 / n).sum()


# ---------------------------------------------------------------------------------------------------
# Solver: closed forms
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("cost", ["equal_grad", "condition"])
def test_orthogonal_constant_gradients_give_inverse_norms(k: int, cost: str) -> None:
    rng = np.random.default_rng(k)
    norms = rng.uniform(0.2, 5.0, size=k)
    basis = np.linalg.qr(rng.normal(size=(8, k)))[0].T  # K orthonormal vectors in R^8
    g = np.tile((norms[:, None] * basis)[None], (5, 1, 1))
    w = solve_window(cost, torch.tensor(gramians_of(g)), None)
    assert w.dtype == torch.float64 and w.shape == (k,)
    np.testing.assert_allclose(w.numpy(), inverse_norm_weights(norms), rtol=1e-6)
    if cost == "condition":
        assert ref_condition_cost(g, w.numpy()[None])[0] == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_equal_loss_constant_losses_give_inverse_losses(k: int) -> None:
    losses = np.tile(np.linspace(0.5, 3.0, k)[None], (7, 1))
    w = solve_window("equal_loss", None, torch.tensor(losses))
    np.testing.assert_allclose(w.numpy(), inverse_norm_weights(losses[0]), rtol=1e-9)


def test_equal_grad_single_step_ignores_correlation() -> None:
    # ||A w|| = 0 iff all w_i |g_i| are equal, whatever the angles between the gradients.
    g = random_gradients(3, 4, tau=1)
    w = solve_window("equal_grad", gramians_of(g), None)
    np.testing.assert_allclose(w.numpy(), inverse_norm_weights(np.linalg.norm(g[0], axis=1)), rtol=1e-9)


# ---------------------------------------------------------------------------------------------------
# Solver: optimality against brute force, constraints
# ---------------------------------------------------------------------------------------------------


def _costs(cost: str, g: np.ndarray, losses: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    if cost == "condition":
        return lambda w: ref_condition_cost(g, w)
    mags = np.abs(losses) if cost == "equal_loss" else np.linalg.norm(g, axis=2)
    return lambda w: ref_equal_cost(mags, w)


@pytest.mark.parametrize("cost", ["equal_grad", "equal_loss", "condition"])
@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_solver_beats_brute_force(cost: str, k: int, seed: int) -> None:
    g = random_gradients(seed, k)
    losses = np.random.default_rng(100 + seed).uniform(0.2, 4.0, size=(g.shape[0], k))
    w = solve_window(cost, torch.tensor(gramians_of(g)), torch.tensor(losses)).numpy()
    assert w.sum() == pytest.approx(k, abs=1e-12) and (w >= 0).all()
    f = _costs(cost, g, losses)
    if k <= 3:
        candidates = simplex_grid(k, 2000 if k == 2 else 150)
    else:
        candidates = k * np.random.default_rng(seed).dirichlet(np.ones(k), size=20000)
    values = f(candidates)
    best = candidates[np.argmin(values)]
    # Second method: Nelder-Mead on the simplex (softmax parametrisation) from the best grid point.
    polished = optimize.minimize(
        lambda z: f(k * np.exp(z)[None] / np.exp(z).sum())[0],
        np.log(np.maximum(best, 1e-9)),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    reference = min(values.min(), polished.fun)
    assert f(w[None])[0] <= reference + 1e-7 * (1 + abs(reference))


def test_window_cost_matches_reference() -> None:
    g = random_gradients(7, 3, tau=5)
    losses = np.random.default_rng(7).uniform(0.5, 2.0, size=(5, 3))
    w = 3 * np.random.default_rng(8).dirichlet(np.ones(3), size=10)
    gram = gramians_of(g)
    np.testing.assert_allclose(
        window_cost("equal_grad", gram, None, w), ref_equal_cost(np.linalg.norm(g, axis=2), w), rtol=1e-10
    )
    np.testing.assert_allclose(window_cost("equal_loss", None, losses, w), ref_equal_cost(losses, w), rtol=1e-10)
    np.testing.assert_allclose(window_cost("condition", gram, None, w), ref_condition_cost(g, w), rtol=1e-6)
    assert window_cost("equal_grad", gram, None, w[0]).shape == ()


# ---------------------------------------------------------------------------------------------------
# Solver: degenerate inputs
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cost", ["equal_grad", "condition"])
def test_zero_gradient_task_gets_weight_one(cost: str) -> None:
    g = random_gradients(4, 3)
    g_zero = np.concatenate([g, np.zeros_like(g[:, :1])], axis=1)  # a 4th task with zero gradient
    w = solve_window(cost, gramians_of(g_zero), None).numpy()
    reduced = solve_window(cost, gramians_of(g), None).numpy()
    assert w[3] == 1.0 and w.sum() == pytest.approx(4)
    np.testing.assert_allclose(w[:3], reduced, rtol=1e-5)


def test_zero_at_some_steps_only_drops_those_terms() -> None:
    norms = np.array([1.0, 2.0, 4.0])
    mags = np.tile(norms, (4, 1))
    mags[1, 2] = 0.0  # task 2 has no gradient at step 1; the other steps still fix its scale
    gram = np.stack([np.diag(m**2) for m in mags])
    np.testing.assert_allclose(solve_window("equal_grad", gram, None).numpy(), inverse_norm_weights(norms), rtol=1e-6)


def test_all_zero_window_gives_uniform() -> None:
    for cost in ["equal_grad", "condition"]:
        np.testing.assert_array_equal(solve_window(cost, np.zeros((3, 2, 2)), None).numpy(), np.ones(2))
    np.testing.assert_array_equal(solve_window("equal_loss", None, np.zeros((3, 3))).numpy(), np.ones(3))


def test_condition_with_singular_gramians_falls_back_to_equal_grad() -> None:
    rng = np.random.default_rng(5)
    u = rng.normal(size=(3, 1, 5))
    g = u * np.array([1.0, -2.0, 3.0])[None, :, None]  # collinear: rank-1 Gramians at every step
    gram = gramians_of(g)
    w = solve_window("condition", gram, None)
    np.testing.assert_allclose(w.numpy(), solve_window("equal_grad", gram, None).numpy())
    np.testing.assert_allclose(w.numpy(), inverse_norm_weights(np.array([1.0, 2.0, 3.0])), rtol=1e-6)


def test_solver_input_errors() -> None:
    with pytest.raises(ValueError, match="equal_grad, equal_loss, condition"):
        solve_window("nope", np.zeros((1, 2, 2)), None)
    with pytest.raises(ValueError, match="needs the Gramians"):
        solve_window("equal_grad", None, np.ones((1, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        solve_window("equal_grad", np.full((1, 2, 2), np.nan), None)


# ---------------------------------------------------------------------------------------------------
# Predictors
# ---------------------------------------------------------------------------------------------------


def renormalised(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0, None)
    return len(v) * v / v.sum()


STEPS = np.arange(6) * 50 + 24.5  # midpoints of six windows of 50 steps


def test_linear_recovers_line() -> None:
    a, b = np.array([1.4, 0.9, 0.7]), np.array([-1e-3, 2e-4, 8e-4])
    ww = a + np.outer(STEPS, b)
    at = 750.0
    np.testing.assert_allclose(predict("linear", STEPS, ww, at).numpy(), renormalised(a + b * at), rtol=1e-10)


def test_exp_recovers_exponential() -> None:
    a, b, c = np.array([0.8, -0.5, 0.3]), np.array([0.01, 0.004, 0.02]), np.array([0.6, 1.5, 0.9])
    ww = a * np.exp(-np.outer(STEPS, b)) + c
    at = 500.0
    expected = renormalised(a * np.exp(-b * at) + c)
    np.testing.assert_allclose(predict("exp", STEPS, ww, at).numpy(), expected, rtol=1e-6)


def test_avg_and_last() -> None:
    ww = np.array([[1.0, 1.0], [1.5, 0.5], [0.5, 1.5]])
    np.testing.assert_allclose(predict("avg", STEPS[:3], ww).numpy(), [1.0, 1.0])
    np.testing.assert_allclose(predict("last", STEPS[:3], ww).numpy(), [0.5, 1.5])


def test_clipping_and_all_negative() -> None:
    ww = np.array([[1.5, 0.5], [1.9, 0.1]])  # task 1 heads below zero
    x = np.array([0.0, 1.0])
    np.testing.assert_allclose(predict("linear", x, ww, 3.0).numpy(), [2.0, 0.0])
    # Every task extrapolates below zero -> uniform ones.
    ww_neg = np.array([[1.0, 1.0], [0.5, 0.4]])
    np.testing.assert_array_equal(predict("linear", x, ww_neg, 10.0).numpy(), [1.0, 1.0])


def test_fallbacks_with_few_windows() -> None:
    one = np.array([[1.2, 0.8]])
    for name in ["linear", "exp"]:
        np.testing.assert_allclose(predict(name, [10.0], one, 100.0).numpy(), one[0])
    two = np.array([[1.2, 0.8], [1.1, 0.9]])
    np.testing.assert_allclose(
        predict("exp", [0.0, 1.0], two, 5.0).numpy(), predict("linear", [0.0, 1.0], two, 5.0).numpy()
    )
    np.testing.assert_allclose(predict("linear", [0.0, 1.0], two, 5.0).numpy(), [0.7, 1.3])


def test_exp_failure_falls_back_to_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no convergence")

    monkeypatch.setattr(asc.optimize, "curve_fit", fail)
    ww = np.array([[1.2, 0.8], [1.1, 0.9], [1.05, 0.95], [1.0, 1.0]])
    np.testing.assert_allclose(
        predict("exp", STEPS[:4], ww, 400.0).numpy(), predict("linear", STEPS[:4], ww, 400.0).numpy()
    )


def test_predictor_errors() -> None:
    with pytest.raises(ValueError, match="avg, last, linear, exp"):
        predict("quadratic", [0.0], np.ones((1, 2)), 1.0)
    with pytest.raises(ValueError, match="at_step"):
        predict("linear", [0.0, 1.0], np.ones((2, 2)))


# ---------------------------------------------------------------------------------------------------
# The two-phase method
# ---------------------------------------------------------------------------------------------------


def step_inputs(t: int, k: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic losses and Gramian for step t, with drifting gradient norms."""
    rng = np.random.default_rng(1000 + t)
    g = rng.normal(size=(k, 6)) + 0.5
    g *= (1.0 + 0.02 * t * np.arange(1, k + 1))[:, None]
    return torch.tensor(rng.uniform(0.5, 2.0, size=k)), torch.tensor(g @ g.T)


def run(method: AutoScale, steps: range) -> list[torch.Tensor]:
    out = []
    for t in steps:
        losses, gram = step_inputs(t, method.num_tasks)
        out.append(method.weights(losses, gram if method.needs_gramian else None))
    return out


def test_phase_switch_exactly_at_floor_alpha_t() -> None:
    m = AutoScale(3, total_steps=100, explore="unitary", alpha=0.3, window=10)
    assert m.switch_step == 30 and m.phase == "explore"
    weights = []
    for t in range(100):
        assert m.needs_gramian == (t < 30)
        assert m.phase == ("explore" if t < 30 else "scalarize")
        losses, gram = step_inputs(t)
        weights.append(m.weights(losses, gram if t < 30 else None))
    assert all(torch.equal(w, torch.ones(3, dtype=torch.float64)) for w in weights[:30])
    assert all(torch.equal(w, weights[30]) for w in weights[30:])
    np.testing.assert_allclose(weights[30].numpy(), m.final_weights.numpy())
    assert m.window_weights.shape == (3, 3)
    np.testing.assert_allclose(m.window_weights.sum(dim=1).numpy(), 3.0, rtol=1e-12)
    np.testing.assert_array_equal(m.window_steps.numpy(), [4.5, 14.5, 24.5])
    expected = predict("linear", m.window_steps, m.window_weights, 50.0)
    np.testing.assert_allclose(m.final_weights.numpy(), expected.numpy())
    assert m.final_weights.sum().item() == pytest.approx(3.0)


def test_windows_match_solve_window() -> None:
    m = AutoScale(3, total_steps=40, explore="unitary", alpha=0.5, window=10, cost="condition")
    run(m, range(20))
    for n in range(2):
        data = [step_inputs(t) for t in range(10 * n, 10 * n + 10)]
        gram = torch.stack([d[1] for d in data])
        np.testing.assert_allclose(m.window_weights[n].numpy(), solve_window("condition", gram, None).numpy())


def test_alpha_rounding() -> None:
    assert AutoScale(2, total_steps=100, explore="unitary", alpha=0.29).switch_step == 29


def test_linear_follow_schedule() -> None:
    m = AutoScale(3, total_steps=100, explore="unitary", alpha=0.3, window=10, predictor="linear_follow", gamma=0.6)
    weights = run(m, range(100))
    a, b = asc.fit_lines(m.window_steps.numpy(), m.window_weights.numpy())
    for t in range(30, 100):
        np.testing.assert_allclose(weights[t].numpy(), renormalised(a + b * min(t, 60.0)), rtol=1e-12)
    assert all(torch.equal(w, weights[60]) for w in weights[60:])
    assert not torch.equal(weights[30], weights[59])
    np.testing.assert_allclose(m.final_weights.numpy(), weights[60].numpy())


def test_state_dict_round_trip_mid_window() -> None:
    a = AutoScale(3, total_steps=60, explore="imtlg", alpha=0.5, window=8)
    run(a, range(13))  # one full window and 5 steps of the next
    state = copy.deepcopy(a.state_dict())
    b = AutoScale(3, total_steps=60, explore="imtlg", alpha=0.5, window=8)
    b.load_state_dict(state)
    wa, wb = run(a, range(13, 60)), run(b, range(13, 60))
    assert all(torch.equal(x, y) for x, y in zip(wa, wb, strict=True))
    assert torch.equal(a.window_weights, b.window_weights) and torch.equal(a.final_weights, b.final_weights)
    with pytest.raises(ValueError, match="config"):
        AutoScale(3, total_steps=61, explore="imtlg", alpha=0.5, window=8).load_state_dict(state)


def test_imtlg_exploration_weights_pass_through() -> None:
    assert "imtlg" in available_methods()
    m = AutoScale(3, total_steps=50, alpha=0.4, window=10)  # default explorer: IMTL-G
    ref = build_method("imtlg", 3)
    for t in range(20):
        losses, gram = step_inputs(t)
        w = m.weights(losses, gram)
        torch.testing.assert_close(w, ref.weights(losses, gram))
        assert w.sum().item() == pytest.approx(1.0)
    assert m.phase == "scalarize" and m.final_weights.sum().item() == pytest.approx(3.0)


def test_alpha_one_never_switches() -> None:
    m = AutoScale(2, total_steps=30, explore="unitary", alpha=1.0, window=10)
    run(m, range(35))
    assert m.phase == "explore" and m.needs_gramian and m.final_weights is None
    assert m.window_weights.shape == (3, 2)


def test_alpha_zero_is_uniform_linear_scalarization() -> None:
    m = AutoScale(3, total_steps=30, explore="unitary", alpha=0.0)
    assert m.phase == "scalarize" and not m.needs_gramian and m.switch_step == 0
    losses, _ = step_inputs(0)
    torch.testing.assert_close(m.weights(losses, None), torch.ones(3, dtype=torch.float64))


def test_exploration_shorter_than_one_window() -> None:
    m = AutoScale(3, total_steps=20, explore="unitary", alpha=0.2, window=50)
    run(m, range(20))
    assert m.switch_step == 4 and m.window_weights.shape == (1, 3)
    np.testing.assert_array_equal(m.window_steps.numpy(), [1.5])
    np.testing.assert_allclose(m.final_weights.numpy(), m.window_weights[0].numpy())


@pytest.mark.parametrize(("alpha", "windows", "last_step"), [(0.5, 5, 43.5), (0.45, 4, 34.5)])
def test_partial_last_window(alpha: float, windows: int, last_step: float) -> None:
    # T = 97, tau = 10: alpha 0.5 -> switch 48, partial window of 8 >= 5 steps is solved;
    # alpha 0.45 -> switch 43, partial window of 3 < 5 steps is dropped.
    m = AutoScale(3, total_steps=97, explore="unitary", alpha=alpha, window=10)
    run(m, range(97))
    assert m.switch_step == math.floor(alpha * 97)
    assert m.window_weights.shape == (windows, 3) and m.window_steps[-1].item() == last_step


def test_record_is_json() -> None:
    m = AutoScale(2, total_steps=40, explore="unitary", alpha=0.5, window=10, predictor="exp")
    run(m, range(40))
    rec = json.loads(json.dumps(m.record()))
    assert rec["switch_step"] == 20 and len(rec["window_weights"]) == 2 and rec["phase"] == "scalarize"
    assert rec["final_weights"] == pytest.approx(m.final_weights.tolist())
    assert rec["config"]["predictor"] == "exp"


def test_delegation_to_exploration_method() -> None:
    uw = AutoScale(2, total_steps=10, explore="uw", alpha=0.2, window=5)
    assert uw.parameters() and uw.parameters()[0] is uw.explore_method.parameters()[0]
    losses, gram = step_inputs(0, 2)
    w = uw.weights(losses, gram)
    torch.testing.assert_close(uw.objective(losses, w), uw.explore_method.objective(losses, w))
    w = uw.weights(losses, gram)  # step 1: last exploration step; the switch follows it
    assert uw.phase == "scalarize"
    torch.testing.assert_close(uw.objective(losses, w), uw.explore_method.objective(losses, w))
    w = uw.weights(losses, None)
    torch.testing.assert_close(uw.objective(losses, w), (w * losses).sum())

    famo = AutoScale(2, total_steps=10, explore="famo", alpha=0.2, window=5)
    assert famo.needs_post_step_losses
    famo.weights(losses, gram)
    famo.post_step(losses * 0.9)
    famo.weights(losses, gram)
    assert famo.needs_post_step_losses  # the last exploration step still gets its post-step losses
    famo.post_step(losses * 0.9)
    famo.weights(losses, None)
    assert not famo.needs_post_step_losses


def test_constructor_errors() -> None:
    with pytest.raises(ValueError, match="equal_grad, equal_loss, condition"):
        AutoScale(2, total_steps=10, cost="bad")
    with pytest.raises(ValueError, match="avg, last, linear, exp, linear_follow"):
        AutoScale(2, total_steps=10, predictor="bad")
    with pytest.raises(ValueError, match="alpha"):
        AutoScale(2, total_steps=10, alpha=1.5)
    with pytest.raises(ValueError, match="shared parameters"):
        AutoScale(2, total_steps=10, explore="mgda_ub")
    m = AutoScale(2, total_steps=10, explore="unitary")
    with pytest.raises(ValueError, match="Gramian"):
        m.weights(torch.ones(2), None)


def test_registered_and_buildable() -> None:
    m = build_method("autoscale", 2, total_steps=10, explore="unitary")
    assert isinstance(m, AutoScale)
