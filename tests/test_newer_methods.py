"""Newer weighting methods (UPGrad, DualProj, FairGrad, GradVac, STCH) against independent truth.

Expected values come from hand derivations (K = 2 closed forms, orthogonal gradients, step-by-step
GradVac updates), from the defining problems solved here independently (cvxpy on the gradient vectors
themselves, scipy on FairGrad's equation), from autograd of STCH's official objective, or from
torchjd's own implementation; never from the method's output. Also: each method as AutoScale's
exploration method, and state round-trips through ``torch.save``/``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import itertools
import math

import cvxpy as cp
import numpy as np
import pytest
import torch
from scipy import optimize
from torch import Tensor
from torchjd.aggregation import GradVacWeighting

from autoscale.methods import build_method, method_class

NEW = ("upgrad", "dualproj", "fairgrad", "gradvac", "stch")
PARAMS = 8


def t64(x: np.ndarray | list[float]) -> Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def jacobian(seed: int, k: int, *, conflicting: bool = True) -> np.ndarray:
    """(k, PARAMS) task gradients of random norms; task 0 pulled against the others (some G_0j < 0)."""
    rng = np.random.default_rng(seed)
    j = np.exp(rng.normal(0.0, 0.5, size=(k, 1))) * rng.normal(size=(k, PARAMS))
    if conflicting:
        j[0] -= 1.5 * j[1:].mean(axis=0)
    return j


def weights_of(name: str, j: np.ndarray, **options: object) -> np.ndarray:
    k = len(j)
    return build_method(name, k, **options).weights(torch.ones(k, dtype=torch.float64), t64(j @ j.T)).numpy()


def solve_clarabel(problem: cp.Problem) -> None:
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)


def dual_cone_projection(j: np.ndarray, x: np.ndarray) -> np.ndarray:
    """argmin_{y : J y >= 0} |y - x|, solved in the parameter space (no Gramian, no duality)."""
    y = cp.Variable(j.shape[1])
    solve_clarabel(cp.Problem(cp.Minimize(cp.sum_squares(y - x)), [j @ y >= 0]))
    return np.asarray(y.value)


def regularised(g: np.ndarray) -> np.ndarray:
    """torchjd's projector preprocessing with its defaults: G / trace(G) + 1e-4 I."""
    return g / np.trace(g) + 1e-4 * np.eye(len(g))


EXACT = {"norm_eps": 0.0, "reg_eps": 0.0}  # the unregularised projection


# --------------------------------------------------------------------------------------------------
# UPGrad and DualProj


def test_upgrad_dualproj_without_conflict_are_the_mean() -> None:
    """No conflict (all G_ij >= 0): every g_i and the mean are already in the dual cone, nothing is
    projected, w = 1/K (the mean gradient; the KKT multipliers 2 G' u are >= 0 at v = u)."""
    for k in (2, 3, 5):
        j = np.abs(jacobian(k, k, conflicting=False))
        for name in ("upgrad", "dualproj"):
            np.testing.assert_allclose(weights_of(name, j), np.full(k, 1.0 / k), rtol=1e-12)
        orthogonal = np.eye(k, PARAMS) * np.arange(1, k + 1)[:, None]
        for name in ("upgrad", "dualproj"):
            np.testing.assert_allclose(weights_of(name, orthogonal), np.full(k, 1.0 / k), rtol=1e-12)


def test_upgrad_two_conflicting_tasks_by_hand() -> None:
    """K = 2, g_1 · g_2 < 0. g_1 satisfies g_1 · g_1 >= 0 and violates only g_2 · y >= 0, so its
    projection onto the dual cone is onto that half-space: pi(g_1) = g_1 - (G_12 / G_22) g_2 (and
    g_1 · pi(g_1) = G_11 - G_12^2 / G_22 >= 0 by Cauchy-Schwarz); likewise for g_2. The mean of the two:
    w = (1 - G_12 / G_11, 1 - G_12 / G_22) / 2. With torchjd's default preprocessing the same derivation
    holds for the QP with G' = G / trace(G) + 1e-4 I (the bound v_i >= 1/2 stays active: its
    multiplier is (G'_11 G'_22 - G'_12^2) / (2 G'_22) >= 0)."""
    j = np.array([[2.0, 1.0, 0.0], [-1.0, 0.5, 1.0]])
    g = j @ j.T
    assert g[0, 1] < 0
    exact = 0.5 * np.array([1 - g[0, 1] / g[0, 0], 1 - g[0, 1] / g[1, 1]])
    np.testing.assert_allclose(weights_of("upgrad", j, **EXACT), exact, rtol=1e-12)
    r = regularised(g)
    default = 0.5 * np.array([1 - r[0, 1] / r[0, 0], 1 - r[0, 1] / r[1, 1]])
    np.testing.assert_allclose(weights_of("upgrad", j), default, rtol=1e-12)
    # The update conflicts with neither task (exactly for the unregularised problem).
    update = j.T @ weights_of("upgrad", j, **EXACT)
    assert (j @ update >= -1e-12).all()


def test_dualproj_two_conflicting_tasks_by_hand() -> None:
    """K = 2, g_1 · g_2 < 0, mean g0 = (g_1 + g_2) / 2. If g0 · g_2 = (G_12 + G_22) / 2 < 0 the mean is
    projected onto the half-space g_2 · y >= 0: pi(g0) = g0 - (g0 · g_2 / G_22) g_2, weights
    (1/2, -G_12 / (2 G_22)); if g0 conflicts with neither task it is kept, w = (1/2, 1/2)."""
    big_small = np.array([[3.0, 0.0, 0.0], [-1.0, 0.8, 0.0]])
    g = big_small @ big_small.T
    assert g[0, 1] + g[1, 1] < 0 < g[0, 1] + g[0, 0]
    np.testing.assert_allclose(weights_of("dualproj", big_small, **EXACT), [0.5, -g[0, 1] / (2 * g[1, 1])], rtol=1e-12)
    r = regularised(g)
    np.testing.assert_allclose(weights_of("dualproj", big_small), [0.5, -r[0, 1] / (2 * r[1, 1])], rtol=1e-12)
    mild = np.array([[1.0, 0.2, 0.0], [-0.3, 1.0, 0.0]])
    gm = mild @ mild.T
    assert gm[0, 1] < 0 and gm[0, 1] + gm[0, 0] > 0 and gm[0, 1] + gm[1, 1] > 0
    np.testing.assert_allclose(weights_of("dualproj", mild), [0.5, 0.5], rtol=1e-12)


@pytest.mark.parametrize("k", [3, 5])
def test_upgrad_dualproj_match_primal_projections(k: int) -> None:
    """On random conflicting gradients: UPGrad's update J^T w is (1/K) sum_i pi(g_i) and DualProj's is
    pi(mean g), each projection solved by cvxpy in the parameter space (unregularised options); with
    the default options, the weights match cvxpy's solve of min v^T G' v s.t. v >= u (the JD paper's
    Proposition 1) on torchjd's preprocessed G'."""
    for seed in range(2):
        j = jacobian(seed, k)
        g = j @ j.T
        assert (g < 0).any()
        upgrad_update = np.mean([dual_cone_projection(j, row) for row in j], axis=0)
        scale = np.linalg.norm(upgrad_update)
        np.testing.assert_allclose(j.T @ weights_of("upgrad", j, **EXACT), upgrad_update, atol=1e-7 * scale)
        dualproj_update = dual_cone_projection(j, j.mean(axis=0))
        np.testing.assert_allclose(
            j.T @ weights_of("dualproj", j, **EXACT), dualproj_update, atol=1e-7 * np.linalg.norm(dualproj_update)
        )
        r = regularised(g)

        def qp(u: np.ndarray, r: np.ndarray = r) -> np.ndarray:
            v = cp.Variable(k)
            solve_clarabel(cp.Problem(cp.Minimize(cp.quad_form(v, cp.psd_wrap(r))), [v >= u]))
            return np.asarray(v.value)

        np.testing.assert_allclose(weights_of("upgrad", j), sum(qp(e / k) for e in np.eye(k)), rtol=1e-6)
        np.testing.assert_allclose(weights_of("dualproj", j), qp(np.full(k, 1.0 / k)), rtol=1e-6)


def test_upgrad_dualproj_scale_and_small_trace() -> None:
    """The projection weights do not depend on the scale of G (v^T c G v has the same minimiser); the
    documented threshold: trace(G) < norm_eps = 1e-4 gives the mean, w = 1/K (a zero Gramian too)."""
    j = np.array([[3.0, 0.0, 0.0, 0.1], [-1.0, 0.8, 0.0, 0.0], [0.5, -0.6, 1.0, 0.0]])  # both project
    for name in ("upgrad", "dualproj"):
        w = weights_of(name, j)
        assert not np.allclose(w, 1.0 / 3)
        np.testing.assert_allclose(weights_of(name, 30.0 * j), w, rtol=1e-9)
        small = j * math.sqrt(0.9e-4 / np.sum(j**2))  # trace 0.9e-4
        np.testing.assert_allclose(weights_of(name, small), np.full(3, 1.0 / 3), rtol=1e-12)
        np.testing.assert_allclose(weights_of(name, np.zeros_like(j)), np.full(3, 1.0 / 3), rtol=1e-12)
        np.testing.assert_allclose(weights_of(name, small, norm_eps=0.0), w, rtol=1e-9)


# --------------------------------------------------------------------------------------------------
# FairGrad


def fairgrad_reference(g: np.ndarray, alpha: float) -> np.ndarray:
    """The a > 0 with G a = a^(-1/alpha), solved here two independent ways: the official residual by
    least squares with tight tolerances from a = 1 (the method starts from 1/K), then polished by
    root finding in log coordinates (x = log a: alpha log (G a)_i + x_i = 0, scale-free)."""
    k = len(g)
    start = optimize.least_squares(
        lambda a: g @ a - a ** (-1.0 / alpha), np.ones(k), bounds=(0, np.inf), xtol=1e-15, ftol=1e-15, gtol=1e-15
    ).x
    x = optimize.root(lambda x: alpha * np.log(g @ np.exp(x)) + x, np.log(start), tol=1e-14).x
    a = np.exp(x)
    np.testing.assert_allclose(g @ a, a ** (-1.0 / alpha), rtol=1e-10)
    return a


def test_fairgrad_orthogonal_gradients_closed_form() -> None:
    """Orthogonal gradients (G diagonal): the equation decouples, G_ii a_i = a_i^(-1/alpha), so
    a_i^((alpha + 1) / alpha) = 1 / G_ii and a_i = G_ii^(-alpha / (alpha + 1)); the weights are K a
    (official factor K). alpha = 2 (default): a_i = G_ii^(-2/3)."""
    norms = np.array([0.5, 1.0, 3.0])
    j = np.diag(norms) @ np.eye(3, PARAMS)
    for alpha in (2.0, 1.0, 0.5):
        expected = 3 * (norms**2) ** (-alpha / (alpha + 1))
        options = {} if alpha == 2.0 else {"alpha": alpha}
        np.testing.assert_allclose(weights_of("fairgrad", j, **options), expected, rtol=1e-6)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_fairgrad_solves_the_official_equation(k: int) -> None:
    """Random conflicting gradients: w / K solves G a = a^(-1/alpha) (independent solve), at the scale
    where the official solver converges (trace G ~ 1) and at scales where it does not (the documented
    deviation: the scale law a(c G) = c^(-alpha/(alpha+1)) a(G) holds instead)."""
    for seed, alpha in itertools.product(range(2), (2.0, 1.0)):
        j = jacobian(seed, k)
        j = j / math.sqrt(np.sum(j**2))
        options = {} if alpha == 2.0 else {"alpha": alpha}
        for c in (1.0, 1e-6, 1e4):
            g = c * (j @ j.T)
            expected = k * fairgrad_reference(g, alpha)
            w = build_method("fairgrad", k, **options).weights(torch.ones(k, dtype=torch.float64), t64(g)).numpy()
            np.testing.assert_allclose(w, expected, rtol=1e-6, err_msg=f"seed={seed} alpha={alpha} c={c}")


def test_fairgrad_degenerate_and_clipping() -> None:
    """A zero gradient has no solution of the equation: that task gets weight 1 and the others solve the
    reduced equation (which does not involve it); a zero Gramian gives w = 1. The official clipping
    norm 1.0 is declared."""
    j = jacobian(4, 3)
    j[2] = 0.0
    g = j @ j.T
    w = weights_of("fairgrad", j)
    assert w[2] == 1.0
    np.testing.assert_allclose(w[:2], 3 * fairgrad_reference(g[:2, :2], 2.0), rtol=1e-6)
    np.testing.assert_array_equal(weights_of("fairgrad", np.zeros((3, PARAMS))), np.ones(3))
    assert build_method("fairgrad", 2).max_grad_norm == 1.0
    assert build_method("fairgrad", 2, max_norm=0.0).max_grad_norm is None


# --------------------------------------------------------------------------------------------------
# GradVac


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-8))


def test_gradvac_two_tasks_step_by_step() -> None:
    """K = 2, beta = 0.5, on explicit vectors (the order of the other tasks cannot matter).

    Step 1 (targets 0): rho = cos(g_1, g_2) < 0 < target, so g_1 += c_1 g_2 with
    c_1 = |g_1| (0 - rho) / (|g_2| + eps) (the correction formula with phi_hat = 0: PCGrad's projection
    up to eps), and likewise for task 2 with its own original gradient; w = (1 + c_2, 1 + c_1). Both
    targets become 0.5 rho. Step 2: new gradients with cosine rho' < 0.5 rho: the correction towards
    t = 0.5 rho is c = |g_1| (t sqrt(1 - rho'^2) - rho' sqrt(1 - t^2)) / (|g_2| sqrt(1 - t^2) + eps), and
    the corrected g_1 + c g_2 has cosine t with g_2 (checked on the vectors). Targets become
    0.5 t + 0.5 rho'. Step 3: aligned gradients (cosine above the target): no correction, w = (1, 1),
    targets move towards their cosine all the same."""
    eps = 1e-8
    method = build_method("gradvac", 2, seed=0)
    assert method.beta == 0.5

    g1, g2 = np.array([1.0, 0.0, 0.0]), np.array([-1.0, 2.0, 0.0])
    rho = cosine(g1, g2)
    c1 = np.linalg.norm(g1) * (-rho) / (np.linalg.norm(g2) + eps)
    c2 = np.linalg.norm(g2) * (-rho) / (np.linalg.norm(g1) + eps)
    w = method.weights(torch.ones(2, dtype=torch.float64), t64(np.stack([g1, g2]) @ np.stack([g1, g2]).T))
    np.testing.assert_allclose(w.numpy(), [1 + c2, 1 + c1], rtol=1e-12)
    assert abs(cosine(g1 + c1 * g2, g2)) < 1e-8  # projected onto the normal plane of g_2
    t = 0.5 * rho
    np.testing.assert_allclose(method.targets.numpy(), [[0.0, t], [t, 0.0]], rtol=1e-12)

    h1, h2 = np.array([1.0, 0.2, 0.5]), np.array([-2.0, 1.0, 0.3])
    rho2 = cosine(h1, h2)
    assert rho2 < t
    n1, n2 = np.linalg.norm(h1), np.linalg.norm(h2)
    s_rho, s_t = math.sqrt(1 - rho2**2), math.sqrt(1 - t**2)
    d1 = n1 * (t * s_rho - rho2 * s_t) / (n2 * s_t + eps)
    d2 = n2 * (t * s_rho - rho2 * s_t) / (n1 * s_t + eps)
    w = method.weights(torch.ones(2, dtype=torch.float64), t64(np.stack([h1, h2]) @ np.stack([h1, h2]).T))
    np.testing.assert_allclose(w.numpy(), [1 + d2, 1 + d1], rtol=1e-12)
    assert cosine(h1 + d1 * h2, h2) == pytest.approx(t, abs=1e-8)
    assert cosine(h2 + d2 * h1, h1) == pytest.approx(t, abs=1e-8)
    t2 = 0.5 * t + 0.5 * rho2
    np.testing.assert_allclose(method.targets.numpy(), [[0.0, t2], [t2, 0.0]], rtol=1e-12)

    a1, a2 = np.array([1.0, 1.0, 0.0]), np.array([1.0, 0.5, 0.2])
    rho3 = cosine(a1, a2)
    assert rho3 > t2
    w = method.weights(torch.ones(2, dtype=torch.float64), t64(np.stack([a1, a2]) @ np.stack([a1, a2]).T))
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0])
    t3 = 0.5 * t2 + 0.5 * rho3
    np.testing.assert_allclose(method.targets.numpy(), [[0.0, t3], [t3, 0.0]], rtol=1e-12)


@pytest.mark.parametrize("k", [3, 5])
def test_gradvac_matches_torchjd(k: int) -> None:
    """torchjd's ``GradVacWeighting`` (an independent implementation, beta 0.5, global RNG) gives the same
    weights over a trajectory when the global RNG starts in the state of the method's seed: same
    formula, same EMA, same draws (one randperm(K - 1) per task)."""
    method = build_method("gradvac", k, seed=11)
    reference = GradVacWeighting(beta=0.5)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        for step in range(6):
            j = jacobian(100 + step, k)
            g = t64(j @ j.T)
            w = method.weights(torch.ones(k, dtype=torch.float64), g)
            np.testing.assert_allclose(w.numpy(), reference(g).numpy(), rtol=1e-12, err_msg=f"step {step}")


def gradvac_updates_first_step(j: np.ndarray) -> np.ndarray:
    """Every update GradVac's first step (targets 0) can produce, over all visiting orders, computed on
    the vectors: for each i, g_i^PC corrected against each other g_j in the order."""
    k = len(j)
    orders = [list(itertools.permutations([t for t in range(k) if t != i])) for i in range(k)]
    updates = []
    for choice in itertools.product(*orders):
        total = np.zeros(j.shape[1])
        for i, order in enumerate(choice):
            v = j[i].copy()
            for other in order:
                rho = cosine(v, j[other])
                if rho < 0.0:
                    v = v + np.linalg.norm(v) * (-rho) / (np.linalg.norm(j[other]) + 1e-8) * j[other]
            total += v
        updates.append(total)
    return np.stack(updates)


def instead_gradvac() -> None:
    """What holds in place of permutation equivariance (declared "random"): for K = 2 exact equivariance
    over a trajectory (same seed, tasks swapped); for K = 3 the first update is one of the updates of the
    explicit vector computation over all visiting orders, for the tasks and for the tasks permuted."""
    swap = [1, 0]
    a, b = build_method("gradvac", 2, seed=3), build_method("gradvac", 2, seed=3)
    for step in range(5):
        j = jacobian(step, 2)
        w = a.weights(torch.ones(2, dtype=torch.float64), t64(j @ j.T)).numpy()
        wp = b.weights(torch.ones(2, dtype=torch.float64), t64(j[swap] @ j[swap].T)).numpy()
        np.testing.assert_allclose(wp, w[swap], rtol=1e-12)
    for seed, perm in itertools.product(range(3), ([2, 0, 1], [1, 0, 2])):
        j = jacobian(seed, 3)[perm]
        w = build_method("gradvac", 3, seed=seed).weights(torch.ones(3, dtype=torch.float64), t64(j @ j.T)).numpy()
        distances = np.linalg.norm(gradvac_updates_first_step(j) - j.T @ w, axis=1)
        assert distances.min() <= 1e-9 * np.linalg.norm(j)


def test_gradvac_zero_gradient_is_not_corrected_towards() -> None:
    """A task with a zero gradient keeps weight 1 (documented: no correction towards a zero vector, which
    would not change the update but would scale that task's head gradient by up to |g| phi_hat / 1e-8),
    even once the targets are positive."""
    method = build_method("gradvac", 3, seed=0)
    aligned = np.abs(jacobian(0, 3, conflicting=False))
    for _ in range(3):  # positive cosines: the targets become positive
        method.weights(torch.ones(3, dtype=torch.float64), t64(aligned @ aligned.T))
    assert (method.targets.numpy()[~np.eye(3, dtype=bool)] > 0).all()
    j = jacobian(1, 3)
    j[2] = 0.0
    w = method.weights(torch.ones(3, dtype=torch.float64), t64(j @ j.T)).numpy()
    assert w[2] == 1.0 and np.isfinite(w).all()


# --------------------------------------------------------------------------------------------------
# STCH


def stch_official_gradient(losses: np.ndarray, nadir: np.ndarray | None, mu: float) -> np.ndarray:
    """d/dL of the official objective (``STCH_MTL/LibMTL/weighting/STCH.py``), by autograd: the warm-up
    sum_i log(L_i + 1e-20) when ``nadir`` is None, else K mu log sum_i exp((log(L_i / z_i + 1e-20) - max) / mu)
    with the detached maximum subtracted as in the official code."""
    leaf = torch.tensor(losses, dtype=torch.float64, requires_grad=True)
    if nadir is None:
        objective = torch.log(leaf + 1e-20).sum()
    else:
        logs = torch.log(leaf / torch.tensor(nadir) + 1e-20)
        shifted = logs - logs.detach().max()
        objective = mu * torch.log(torch.sum(torch.exp(shifted / mu))) * len(losses)
    objective.backward()
    return leaf.grad.numpy()


@pytest.mark.parametrize("mu", [1.0, 0.3])
def test_stch_weights_are_the_gradient_of_the_official_objective(mu: float) -> None:
    """Epochs 0..E-1: gradient of the log-losses; epoch E: the same, and its step losses are averaged
    into the nadir vector (computed here); after E: gradient of the smooth Tchebycheff objective. Here
    E = 2, three steps an epoch, epochs counted by epoch_end."""
    rng = np.random.default_rng(0)
    k, warmup = 3, 2
    method = build_method("stch", k, mu=mu, warmup_epoch=warmup)
    seen = []
    for epoch in range(5):
        for _ in range(3):
            losses = rng.uniform(0.2, 3.0, size=k)
            w = method.weights(t64(losses), None).numpy()
            if epoch == warmup:
                seen.append(losses)
            nadir = np.mean(seen, axis=0) if epoch > warmup else None
            np.testing.assert_allclose(w, stch_official_gradient(losses, nadir, mu), rtol=1e-12)
        method.epoch_end(t64(rng.uniform(0.2, 3.0, size=k)))
    np.testing.assert_allclose(method.nadir.numpy(), np.mean(seen, axis=0), rtol=1e-15)


def test_stch_defaults_and_errors() -> None:
    """Official defaults mu = 1, warm-up epoch 4 (STCH proper from epoch 5); at the nadir itself the
    softmax is uniform, w_i = 1 / (z_i (1 + 1e-20)) ~ 1 / z_i. Negative losses and a warm-up epoch
    without steps are errors."""
    method = build_method("stch", 2)
    assert (method.mu, method.warmup_epoch) == (1.0, 4)
    losses = t64([0.5, 2.0])
    for _ in range(5):
        np.testing.assert_allclose(method.weights(losses, None).numpy(), [2.0, 0.5], rtol=1e-15)
        method.epoch_end(losses)
    np.testing.assert_allclose(method.weights(losses, None).numpy(), [2.0, 0.5], rtol=1e-15)
    with pytest.raises(ValueError, match="non-negative"):
        build_method("stch", 2).weights(t64([-0.1, 1.0]), None)
    skipped = build_method("stch", 2, warmup_epoch=0)
    skipped.epoch_end(losses)
    with pytest.raises(RuntimeError, match="no step ran"):
        skipped.weights(losses, None)
    assert method_class("stch").info.family == "loss" and not build_method("stch", 2).needs_gramian


# --------------------------------------------------------------------------------------------------
# All five: declarations, state through torch.save, AutoScale exploration


def test_declarations() -> None:
    rows = {"upgrad": 150, "dualproj": 160, "fairgrad": 170, "gradvac": 180, "stch": 190}
    for name, row in rows.items():
        info = method_class(name).info
        assert info.table_row == row and not info.in_paper, name
        assert info.family == ("loss" if name == "stch" else "gramian"), name
    assert method_class("gradvac").run_options == ("seed",)


def random_step(rng: np.random.Generator, k: int) -> tuple[Tensor, Tensor]:
    j = jacobian(int(rng.integers(1 << 30)), k)
    return t64(rng.uniform(0.3, 2.0, size=k)), t64(j @ j.T)


@pytest.mark.parametrize("name", NEW)
def test_state_round_trip_through_torch_save(name: str) -> None:
    """After 4 steps (with epoch ends; STCH with warm-up epoch 1 so that its nadir is in the state),
    the state saved with torch.save and loaded with weights_only=True resumes exactly (a new instance
    built with another seed where the method takes one)."""
    options = {"warmup_epoch": 1} if name == "stch" else {}
    rng = np.random.default_rng(1)
    steps = [random_step(rng, 3) for _ in range(8)]
    original = build_method(name, 3, **options, **({"seed": 0} if name == "gradvac" else {}))

    def step(method: object, t: int) -> Tensor:
        losses, gramian = steps[t]
        w = method.weights(losses, gramian if method.needs_gramian else None)
        if t % 2 == 1:
            method.epoch_end(losses)
        return w

    for t in range(4):
        step(original, t)
    buffer = io.BytesIO()
    torch.save(original.state_dict(), buffer)
    expected = [step(original, t) for t in range(4, 8)]
    buffer.seek(0)
    restored = build_method(name, 3, **options, **({"seed": 99} if name == "gradvac" else {}))
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    for t in range(4, 8):
        assert torch.equal(step(restored, t), expected[t - 4]), (name, t)


@pytest.mark.parametrize("name", NEW)
def test_as_autoscale_exploration_method(name: str) -> None:
    """AutoScale with each method as its explorer: 20 steps (10 exploring, windows of 2), finite weights
    throughout, the Gramian asked for exactly while exploring, and predicted weights summing to K after
    the switch. STCH gets warm-up epoch 1 and an epoch every 3 steps, so it leaves its warm-up while
    exploring."""
    k = 3
    explore_options = {"warmup_epoch": 1} if name == "stch" else ({"seed": 0} if name == "gradvac" else {})
    method = build_method(
        "autoscale", k, total_steps=20, explore=name, alpha=0.5, window=2, explore_options=explore_options
    )
    rng = np.random.default_rng(2)
    for t in range(20):
        losses, gramian = random_step(rng, k)
        assert method.needs_gramian == (t < 10)
        w = method.weights(losses, gramian if method.needs_gramian else None)
        assert w.shape == (k,) and torch.isfinite(w).all(), (t, w)
        if t % 3 == 2:
            method.epoch_end(losses)
    assert method.phase == "scalarize"
    assert float(w.sum()) == pytest.approx(k)
    if name == "stch":
        assert method.explore_method.nadir is not None
