"""Properties every registered weighting method must have, checked over the whole registry.

In the manner of TorchJD's aggregator property tests: each test is parametrised over
``available_methods()`` (the registry, not a list kept here), and each method's class declares the
minimal options it needs and how permutation equivariance applies to it (``properties``); the scale
law or closed form it promises is in :data:`LAWS` or in its own test module. A registered method
cannot be skipped: every property test runs over the whole registry.

Properties:

- finite weights of shape (K,), in the dtype of the losses, for random well-conditioned inputs
  (K = 2, 3, 5, several seeds);
- permutation equivariance: permuting the tasks (losses, and G as P G P^T) permutes the weights. For
  a method that is a deterministic function of its current inputs (``FUNCTION``) every step is
  checked, and a fresh instance must give the running instance's weights. For a deterministic
  stateful method (``TRAJECTORY``) the whole input sequence (losses, Gramians, post-step losses,
  epoch means) is permuted and every step's weights must be permuted. Methods that draw random
  numbers (``RANDOM``) get the check stated in their entry instead;
- the scale law / closed form of each method's docstring and paper, checked against an independent
  computation (an SVD of the Jacobian, a cvxpy or scipy solve, a hand derivation), never against the
  method's own output;
- a zero Gramian and rank-deficient ones (two identical task gradients; one zero gradient): no
  exception, finite weights, and the documented value where the docstring gives one;
- state round-trip: after a few steps, ``state_dict()`` loaded into a new instance (built with another
  seed where the method takes one) gives exactly the original's next weights.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import itertools
import math
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cvxpy as cp
import numpy as np
import pytest
import torch
from scipy import optimize, stats
from torch import Tensor

from autoscale.methods import PropertySpec, Weighting, available_methods, build_method, method_class

K_VALUES = (2, 3, 5)
SEEDS = (0, 1, 2)
PARAMS = 8  # length of the synthetic task gradients: K <= 5 random rows are linearly independent
SCALES = (1e-6, 1e4)  # factors c for the Gramian scale laws (G -> c G)

# Nash-MTL's documented fallbacks warn; what they return is asserted in the tests.
pytestmark = pytest.mark.filterwarnings("ignore:Nash-MTL:UserWarning")

# --------------------------------------------------------------------------------------------------
# Inputs and a training step as a trainer (and the README loop) performs it


def jacobian(seed: int, k: int, *, conflicting: bool = False) -> np.ndarray:
    """(k, PARAMS) task gradients, rows of random norms (e^N(0, 0.5^2)), well conditioned.

    ``conflicting``: task 0's gradient is pulled against the others so that some G_0j < 0.
    """
    rng = np.random.default_rng(seed)
    j = np.exp(rng.normal(0.0, 0.5, size=(k, 1))) * rng.normal(size=(k, PARAMS))
    if conflicting:
        j[0] -= 1.5 * j[1:].mean(axis=0)
    return j


def losses_for(seed: int, k: int) -> np.ndarray:
    return np.random.default_rng(1000 + seed).uniform(0.5, 2.0, size=k)


def t64(x: np.ndarray | list[float]) -> Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def gram(j: np.ndarray) -> Tensor:
    return t64(j @ j.T)


@dataclass
class Step:
    """What one training step feeds a method."""

    losses: Tensor  # (K,)
    gramian: Tensor  # (K, K), passed only when the method asks for it
    after: Tensor  # losses of the same batch after the update (``post_step``, FAMO)
    epoch_means: Tensor  # mean losses of an epoch (``epoch_end``, DWA)

    def permuted(self, perm: np.ndarray) -> Step:
        p = torch.as_tensor(perm)
        return Step(self.losses[p], self.gramian[p][:, p], self.after[p], self.epoch_means[p])

    def to(self, dtype: torch.dtype) -> Step:
        return Step(*(x.to(dtype) for x in (self.losses, self.gramian, self.after, self.epoch_means)))


def trajectory(seed: int, k: int, n: int) -> list[Step]:
    """n steps of random well-conditioned inputs with conflicting gradients (some G_ij < 0) and positive
    losses that decrease over the update."""
    rng = np.random.default_rng(seed)
    steps = []
    for t in range(n):
        losses = rng.uniform(0.5, 2.0, size=k)
        steps.append(
            Step(
                t64(losses),
                gram(jacobian(100 * seed + t, k, conflicting=True)),
                t64(losses * rng.uniform(0.6, 0.99, size=k)),
                t64(rng.uniform(0.5, 2.0, size=k)),
            )
        )
    return steps


def run_step(method: Weighting, step: Step, lr: float = 0.5) -> Tensor:
    """One step: weights, the objective's gradient on the method's own parameters (an SGD step, as the
    model's optimiser would take), ``post_step`` when asked for, ``epoch_end``. Inputs are deep copies,
    so a method cannot alter the caller's tensors."""
    step = copy.deepcopy(step)
    w = method.weights(step.losses, step.gramian if method.needs_gramian else None)
    params = method.parameters()
    objective = method.objective(step.losses, w)
    if params and objective.requires_grad:  # (AutoScale: not after the switch away from UW)
        objective.backward()
        with torch.no_grad():
            for p in params:
                if p.grad is not None:
                    p -= lr * p.grad
                    p.grad = None
    if method.needs_post_step_losses:
        method.post_step(step.after)
    method.epoch_end(step.epoch_means)
    return w.detach().clone()


def permutation(seed: int, k: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(k)
        if (perm != np.arange(k)).any():
            return perm


def assert_close(
    actual: Tensor | np.ndarray, expected: Tensor | np.ndarray, rtol: float, atol: float = 0.0, err_msg: str = ""
) -> None:
    a = actual.detach().cpu().double().numpy() if isinstance(actual, Tensor) else np.asarray(actual, np.float64)
    e = expected.detach().cpu().double().numpy() if isinstance(expected, Tensor) else np.asarray(expected, np.float64)
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=err_msg)


# --------------------------------------------------------------------------------------------------
# Scale laws and closed forms, one per method (each docstring says what is checked)


def build(name: str, k: int, **overrides: Any) -> Weighting:
    return build_method(name, k, **{**spec_of(name).options(k), **overrides})


def fresh_weights(name: str, losses: Tensor, gramian: Tensor, **overrides: Any) -> Tensor:
    return build(name, len(losses), **overrides).weights(losses, gramian)


def law_alignedmtl() -> None:
    """Aligned-MTL (Algorithm 1): w = B 1 with B = sigma_min U S^-1 U^T from the SVD J = U S V^T (the
    aligned gradients J^T B then have every singular value equal to sigma_min); computed here from J,
    not from G. Scale-free: G -> c G leaves w unchanged."""
    for k, seed in itertools.product(K_VALUES, SEEDS):
        j, losses = jacobian(seed, k), t64(losses_for(seed, k))
        u, s, _ = np.linalg.svd(j, full_matrices=False)
        expected = (s.min() * u / s) @ u.T @ np.ones(k)
        for c in (1.0, *SCALES):
            assert_close(fresh_weights("alignedmtl", losses, c * gram(j)), expected, rtol=1e-8)


def law_autoscale() -> None:
    """AutoScale, Equal |g| cost (Eq. 2): when the task-gradient magnitudes stay proportional over the
    exploration (G^t = c_t G), every step has cost 0 at w_i = K (1/|g_i|) / sum_j 1/|g_j|, so every window
    weight and every predictor gives that ŵ; the Gramian scale does not matter. The Gramian is asked for
    exactly during the floor(alpha T) exploration steps, then the phase-2 weights are ŵ (sum K).
    Equal |l| cost: the same with the losses, w_i ∝ 1/|l_i|."""
    total, options = 8, {"total_steps": 8, "alpha": 0.5, "window": 2}
    rng = np.random.default_rng(0)
    for k, seed in itertools.product(K_VALUES, SEEDS):
        j, losses = jacobian(seed, k), losses_for(seed, k)
        norms = np.linalg.norm(j, axis=1)
        for cost, magnitudes in (("equal_grad", norms), ("equal_loss", losses)):
            expected = k * (1.0 / magnitudes) / np.sum(1.0 / magnitudes)
            method = build("autoscale", k, **options, cost=cost)
            for t in range(total):
                assert method.needs_gramian == (t < 4)
                c = float(np.exp(rng.normal(0.0, 3.0)))  # G^t = c_t G, losses c'_t l
                scale = float(rng.uniform(0.5, 2.0)) if cost == "equal_loss" else 1.0
                gramian = c * gram(j) if method.needs_gramian else None
                w = method.weights(t64(scale * losses), gramian)
                if t >= 4:
                    assert_close(w, expected, rtol=1e-7)
            assert_close(method.final_weights, expected, rtol=1e-7)


def law_cagrad() -> None:
    """CAGrad (Eq. 4-5, official rescale 1 and factor K): the update is J^T w = K d / (1 + c^2) with d
    the maximiser of min_i g_i · d over the ball |d - g0| <= c |g0|, g0 = mean_i g_i. Checked in the
    primal, on the gradients themselves (the method solves the dual on G): d is in the ball, reaches
    the optimal value of a cvxpy solve and is that solve's maximiser. Scale-free (G -> c G: the method
    normalises the gradients by max_i |g_i|). c = 0: all weights 1 (the summed gradient)."""
    c = 0.4
    for k, seed in itertools.product(K_VALUES, SEEDS):
        j, losses = jacobian(seed, k, conflicting=True), t64(losses_for(seed, k))
        jn = j / np.sqrt(np.max(np.sum(j**2, axis=1)))  # the method's normalisation; the law is homogeneous
        g0 = jn.mean(axis=0)
        radius = c * np.linalg.norm(g0)
        d, t = cp.Variable(PARAMS), cp.Variable()
        primal = cp.Problem(cp.Maximize(t), [jn @ d >= t, cp.norm(d - g0) <= radius])
        primal.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
        w = fresh_weights("cagrad", losses, gram(j)).numpy()
        update = jn.T @ w * (1.0 + c**2) / k
        # Tolerances: the official 1e-8 safeguards (normalised scale) and SLSQP's ftol 1e-12 on the dual,
        # which is flat at its minimum: the update comes within ~1e-6 of d (measured up to 1.5e-6).
        assert np.linalg.norm(update - g0) <= radius + 1e-7
        assert np.min(jn @ update) >= primal.value - 1e-5 * radius
        assert_close(update, d.value, rtol=0, atol=1e-5 * np.linalg.norm(d.value))
        for scale in SCALES:
            assert_close(fresh_weights("cagrad", losses, scale * gram(j)), w, rtol=1e-7)
        # c = 0: the summed gradient, up to the official safeguard (radius 1e-8 instead of 0).
        assert_close(fresh_weights("cagrad", losses, gram(j), c=0.0), np.ones(k), rtol=1e-6)


def law_dwa() -> None:
    """DWA (Eq. 1, T = 2): w = 1 for the first two epochs, then w = K softmax((L(e-1) / L(e-2)) / T),
    computed here with numpy; fixed within an epoch (the step's losses do not matter), and invariant to
    a per-task scale of the losses (only ratios enter)."""
    for k, seed in itertools.product(K_VALUES, SEEDS):
        rng = np.random.default_rng(seed)
        means = rng.uniform(0.5, 2.0, size=(4, k))
        task_scale = np.exp(rng.normal(0.0, 2.0, size=k))
        plain, scaled = build("dwa", k), build("dwa", k)
        for epoch in range(4):
            if epoch < 2:
                expected = np.ones(k)
            else:
                z = np.exp(means[epoch - 1] / means[epoch - 2] / 2.0)
                expected = k * z / z.sum()
            for _ in range(2):  # two steps of the epoch, with different losses
                losses = rng.uniform(0.5, 2.0, size=k)
                assert_close(plain.weights(t64(losses), None), expected, rtol=1e-12)
                assert_close(scaled.weights(t64(task_scale * losses), None), expected, rtol=1e-12)
            plain.epoch_end(t64(means[epoch]))
            scaled.epoch_end(t64(task_scale * means[epoch]))


def law_famo() -> None:
    """FAMO: w_i = z_i / (c L_i) with z = softmax(logits), c normalising to sum 1; at the start z is
    uniform, so w ∝ 1/L. After one post_step, the logits have taken one Adam step (lr 0.025) along
    z * (delta - z · delta), delta_i = log L_i - log L_i^after: Adam's first step is -lr * sign, so
    the next weights are known in closed form (numpy here). Per-task scale invariance: multiplying a
    task's losses (before and after) by a_i leaves z = w_i L_i / sum_j w_j L_j unchanged at every step."""
    lr = 0.025
    for k, seed in itertools.product(K_VALUES, SEEDS):
        steps = trajectory(seed, k, 4)
        method = build("famo", k)
        l0, a0, l1 = steps[0].losses.numpy(), steps[0].after.numpy(), steps[1].losses.numpy()
        assert_close(run_step(method, steps[0]), (1.0 / l0) / np.sum(1.0 / l0), rtol=1e-6)
        delta = np.log(l0) - np.log(a0)
        gradient = (delta - delta.mean()) / k
        z = np.exp(-lr * np.sign(gradient))
        z /= z.sum()
        assert_close(method.weights(t64(l1), None), (z / l1) / np.sum(z / l1), rtol=1e-5)
        task_scale = t64(np.exp(np.random.default_rng(seed).normal(0.0, 2.0, size=k)))
        plain, scaled = build("famo", k), build("famo", k)
        for step in steps:
            w = run_step(plain, step)
            bigger = Step(task_scale * step.losses, step.gramian, task_scale * step.after, step.epoch_means)
            w_scaled = run_step(scaled, bigger)
            q, q_scaled = w * step.losses, w_scaled * bigger.losses
            assert_close(q_scaled / q_scaled.sum(), q / q.sum(), rtol=1e-5)


def law_gradnorm() -> None:
    """GradNorm (Algorithm 1, alpha 1.5, Adam lr 0.025): w(0) = 1; at step 0 every training rate is 1,
    the target is mean_j |g_j|, so d/dw_i of the GradNorm loss has the sign of |g_i| - mean_j |g_j| and
    Adam's first step moves w_i by -lr times that sign; renormalised to sum K this gives w(1) in closed
    form. Invariances along a trajectory: a per-task loss scale (only L_i(t) / L_i(0) enters), and
    G -> c G (the loss is homogeneous in |g|, Adam is scale-free up to its eps)."""
    lr = 0.025
    for k, seed in itertools.product(K_VALUES, SEEDS):
        steps = trajectory(seed, k, 4)
        method = build("gradnorm", k)
        assert torch.equal(run_step(method, steps[0]), torch.ones(k, dtype=torch.float64))
        norms = np.sqrt(np.diag(steps[0].gramian.numpy()))
        moved = 1.0 - lr * np.sign(norms - norms.mean())
        assert_close(run_step(method, steps[1]), k * moved / moved.sum(), rtol=1e-7)
        task_scale = t64(np.exp(np.random.default_rng(seed).normal(0.0, 2.0, size=k)))
        plain, by_loss, by_grad = build("gradnorm", k), build("gradnorm", k), build("gradnorm", k)
        for step in steps:
            w = run_step(plain, step)
            assert_close(
                run_step(by_loss, Step(task_scale * step.losses, step.gramian, step.after, step.epoch_means)),
                w,
                rtol=1e-10,
            )
            assert_close(
                run_step(by_grad, Step(step.losses, 100.0 * step.gramian, step.after, step.epoch_means)), w, rtol=1e-6
            )


def law_imtlg() -> None:
    """IMTL-G (Sec. 3.2, Eq. 7): alpha sums to 1 and the update d = J^T alpha has the same projection
    d · u_i on every unit gradient u_i = g_i / |g_i| (checked on the gradients themselves). Scale-free in
    G; a per-task gradient scale g_i -> a_i g_i leaves the update direction unchanged, i.e.
    alpha' ∝ alpha / a."""
    for k, seed in itertools.product(K_VALUES, SEEDS):
        j, losses = jacobian(seed, k, conflicting=True), t64(losses_for(seed, k))
        alpha = fresh_weights("imtlg", losses, gram(j)).numpy()
        assert alpha.sum() == pytest.approx(1.0, abs=1e-12)
        projections = (j / np.linalg.norm(j, axis=1, keepdims=True)) @ (j.T @ alpha)
        assert_close(projections, np.full(k, projections.mean()), rtol=1e-9)
        for c in SCALES:
            assert_close(fresh_weights("imtlg", losses, c * gram(j)), alpha, rtol=1e-8)
        a = np.exp(np.random.default_rng(seed).normal(0.0, 2.0, size=k))
        scaled = fresh_weights("imtlg", losses, gram(a[:, None] * j)).numpy()
        assert_close(scaled * a / np.sum(scaled * a), alpha, rtol=1e-8)


def law_linear() -> None:
    """Linear scalarization: w is the given vector, at its given scale, whatever the inputs (losses,
    Gramian or none, number of calls)."""
    for k, seed in itertools.product(K_VALUES, SEEDS):
        fixed = list(np.random.default_rng(seed).uniform(0.1, 5.0, size=k))
        method = build("linear", k, weights=fixed)
        for step in trajectory(seed, k, 3):
            for gramian in (None, step.gramian, 1e6 * step.gramian):
                assert_close(method.weights(step.losses, gramian), fixed, rtol=1e-6)  # stored in float32


def law_unitary() -> None:
    """Unitary scalarization: w = 1 whatever the inputs."""
    for k, seed in itertools.product(K_VALUES, SEEDS):
        method = build("unitary", k)
        for step in trajectory(seed, k, 3):
            assert torch.equal(method.weights(step.losses, step.gramian), torch.ones(k, dtype=torch.float64))


def min_norm_reference(gramian: np.ndarray) -> float:
    """min over the simplex of w^T G w, by SLSQP from every vertex and the centre (independent of Wolfe)."""
    k = len(gramian)
    starts = [*np.eye(k), np.full(k, 1.0 / k)]
    best = np.inf
    for start in starts:
        result = optimize.minimize(
            lambda w: w @ gramian @ w,
            start,
            jac=lambda w: 2 * gramian @ w,
            bounds=[(0.0, 1.0)] * k,
            constraints={"type": "eq", "fun": lambda w: w.sum() - 1.0},
            method="SLSQP",
            options={"ftol": 1e-15, "maxiter": 500},
        )
        best = min(best, float(result.x @ gramian @ result.x))
    return best


def law_mgda(name: str = "mgda") -> None:
    """MGDA (default normalisation "loss+", n_i = L_i |g_i|): w is the min-norm point of the convex hull
    of the normalised gradients g_i / n_i: on the simplex, KKT on the gradients themselves
    (g'_i · d >= |d|^2, equality on the support), and |d|^2 no larger than an independent SLSQP
    minimum; for K = 2 the closed form lambda = clip((G'_22 - G'_12) / (G'_11 + G'_22 - 2 G'_12), 0, 1).
    Invariant to G -> c G and to a per-task gradient scale (n_i absorbs both); the common loss scale is
    :func:`test_mgda_invariant_to_a_common_loss_scale`."""
    for k, seed in itertools.product(K_VALUES, SEEDS):
        j, losses = jacobian(seed, k, conflicting=True), losses_for(seed, k)
        w = fresh_weights(name, t64(losses), gram(j)).numpy()
        assert (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-12)
        jn = j / (losses * np.linalg.norm(j, axis=1))[:, None]
        d = jn.T @ w
        sq = d @ d
        pull = jn @ d
        assert (pull >= sq * (1 - 1e-9)).all()
        support = w > 1e-9
        assert_close(pull[support], np.full(support.sum(), sq), rtol=1e-9)
        assert sq <= min_norm_reference(jn @ jn.T) * (1 + 1e-9) + 1e-15
        if k == 2:
            g = jn @ jn.T
            lam = np.clip((g[1, 1] - g[0, 1]) / (g[0, 0] + g[1, 1] - 2 * g[0, 1]), 0.0, 1.0)
            assert_close(w, [lam, 1.0 - lam], rtol=1e-12, atol=1e-12)
        a = np.exp(np.random.default_rng(seed).normal(0.0, 2.0, size=k))
        for c in SCALES:
            assert_close(fresh_weights(name, t64(losses), c * gram(j)), w, rtol=1e-9, atol=1e-12)
        assert_close(fresh_weights(name, t64(losses), gram(a[:, None] * j)), w, rtol=1e-9, atol=1e-12)


def law_mgda_ub() -> None:
    """MGDA-UB: MGDA's law on the Gramian it is given, which is over the shared representation."""
    assert method_class("mgda_ub").gramian_source == "representation"
    law_mgda("mgda_ub")


def nash_reference(gramian: np.ndarray) -> np.ndarray:
    """The alpha > 0 with G alpha = 1 / alpha: unique stationary point of 1/2 a^T G a - sum log a,
    found by BFGS in log coordinates (a = e^x), independently of the method's cvxpy / Newton code."""

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        a = np.exp(x)
        ga = gramian @ a
        return 0.5 * a @ ga - x.sum(), a * ga - 1.0

    x0 = -0.5 * np.log(np.diag(gramian))
    x = optimize.minimize(fun, x0, jac=True, method="BFGS", options={"gtol": 1e-13}).x
    x = optimize.root(lambda x: fun(x)[1], x, tol=1e-14).x  # polish: the root of a (G a) = 1 in log coordinates
    a = np.exp(x)
    assert np.max(np.abs(a * (gramian @ a) - 1.0)) < 1e-8
    return a


def assert_nash_solution(alpha: np.ndarray, g: np.ndarray, where: str) -> None:
    """alpha > 0 solves G alpha = 1 / alpha to the documented stopping rule |G' beta - 1/beta| < 1e-3
    (G' = G / |G|_F, beta = sqrt(|G|_F) alpha), and is near an independent solve."""
    norm = np.linalg.norm(g)
    beta = np.sqrt(norm) * alpha
    assert (alpha > 0).all(), where
    assert np.linalg.norm(g / norm @ beta - 1.0 / beta) < 1e-3, where
    assert_close(alpha, nash_reference(g), rtol=1e-2, err_msg=where)


def law_nashmtl() -> None:
    """Nash-MTL: alpha > 0 solves G alpha = 1 / alpha (Nash bargaining solution), see
    :func:`assert_nash_solution`, for a fresh instance and at every step of a warm-started trajectory (a
    failed convex approximation is documented to fall back to the exact solution, which exists for
    every positive definite G). Scale law: G -> c G gives alpha / sqrt(c)."""
    for k, seed in itertools.product(K_VALUES, SEEDS):
        j, losses = jacobian(seed, k, conflicting=True), t64(losses_for(seed, k))
        g = j @ j.T
        alpha = fresh_weights("nashmtl", losses, t64(g)).numpy()
        assert_nash_solution(alpha, g, f"fresh K={k} seed={seed}")
        for c in SCALES:
            # Same iterations on G / |G|_F up to rounding, amplified by Clarabel's accuracy (seen: 3e-7).
            assert_close(fresh_weights("nashmtl", losses, c * t64(g)), alpha / np.sqrt(c), rtol=1e-5)
        method = build("nashmtl", k)
        for t, step in enumerate(trajectory(seed, k, 8)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the documented fallback warns
                alpha = run_step(method, step).numpy()
            assert_nash_solution(alpha, step.gramian.numpy(), f"trajectory K={k} seed={seed} step={t}")


def pcgrad_updates(j: np.ndarray) -> np.ndarray:
    """Every update sum_i g_i^PC PCGrad can produce (paper, Algorithm 1): for each task i, g_i projected
    on the normal plane of each conflicting other g_j in turn, over all (K-1)!^K orders; vectors in R^P."""
    k = len(j)
    orders = [list(itertools.permutations([t for t in range(k) if t != i])) for i in range(k)]
    updates = []
    for choice in itertools.product(*orders):
        total = np.zeros(j.shape[1])
        for i, order in enumerate(choice):
            g = j[i].copy()
            for t in order:
                inner = g @ j[t]
                if inner < 0:
                    g = g - inner / (j[t] @ j[t]) * j[t]
            total += g
        updates.append(total)
    return np.stack(updates)


def assert_pcgrad_update_possible(j: np.ndarray, w: np.ndarray) -> None:
    distances = np.linalg.norm(pcgrad_updates(j) - j.T @ w, axis=1)
    assert distances.min() <= 1e-9 * np.linalg.norm(j), f"update J^T w is no PCGrad update (distances {distances})"


def law_pcgrad() -> None:
    """PCGrad: with no conflict (all g_i · g_j >= 0) w = 1; with K = 2 and g_1 · g_2 < 0,
    w = (1 - G_12/G_11, 1 - G_12/G_22) by hand; for K = 3 the update J^T w is one of the updates of the
    explicit vector projections over all orders. Scale-free: same seed, G -> c G, same w."""
    for k, seed in itertools.product(K_VALUES, SEEDS):
        losses = t64(losses_for(seed, k))
        aligned = np.abs(jacobian(seed, k))
        assert torch.equal(
            fresh_weights("pcgrad", losses, gram(aligned), seed=seed), torch.ones(k, dtype=torch.float64)
        )
        j = jacobian(seed, k, conflicting=True)
        g = j @ j.T
        assert (g < 0).any()
        w = fresh_weights("pcgrad", losses, t64(g), seed=seed).numpy()
        if k == 2:
            assert g[0, 1] < 0
            assert_close(w, [1 - g[0, 1] / g[0, 0], 1 - g[0, 1] / g[1, 1]], rtol=1e-12)
        if k == 3:
            assert_pcgrad_update_possible(j, w)
        for c in SCALES:
            assert_close(fresh_weights("pcgrad", losses, c * t64(g), seed=seed), w, rtol=1e-9)


def law_rlw() -> None:
    """RLW (Algorithm 2, normal): w = softmax(z), z ~ N(0, I): positive, sum 1, and
    log(w_i / w_j) = z_i - z_j ~ N(0, 2) (Kolmogorov-Smirnov over 3000 seeded draws), each task's mean
    weight 1/K (exchangeable)."""
    for k in K_VALUES:
        method = build("rlw", k, seed=k)
        losses = t64(losses_for(0, k))
        draws = torch.stack([method.weights(losses, None) for _ in range(3000)]).numpy()
        assert (draws > 0).all()
        assert_close(draws.sum(axis=1), np.ones(len(draws)), rtol=1e-12)
        for i, j in itertools.combinations(range(k), 2):
            p_value = stats.kstest(np.log(draws[:, i] / draws[:, j]), stats.norm(scale=math.sqrt(2.0)).cdf).pvalue
            assert p_value > 1e-3, (i, j, p_value)
        standard_error = draws.std(axis=0) / math.sqrt(len(draws))
        assert (np.abs(draws.mean(axis=0) - 1.0 / k) < 4 * standard_error).all()


def law_uw() -> None:
    """Uncertainty weighting (Kendall et al. Eq. 7-10, LibMTL form): w_i = 1 / (2 exp(s_i)) starting at
    s = -0.5; the objective sum_i w_i L_i + s_i / 2 is stationary at exp(s_i) = L_i, so gradient
    descent on s (through ``objective``) drives w_i to 1 / (2 L_i): a task's weight scales as 1 / L_i."""
    for k, seed in itertools.product(K_VALUES, SEEDS):
        method = build("uw", k)
        losses = t64(losses_for(seed, k))
        step = Step(losses, gram(jacobian(seed, k)), losses, losses)
        w = run_step(method, step, lr=1.0)
        assert_close(w, np.full(k, 0.5 * math.exp(0.5)), rtol=1e-6)
        objective = method.objective(losses, method.weights(losses, None))
        s = method.parameters()[0].detach().double().numpy()
        assert float(objective.detach()) == pytest.approx(
            float(np.sum(0.5 * np.exp(-s) * losses.numpy() + 0.5 * s)), rel=1e-6
        )
        for _ in range(80):
            run_step(method, step, lr=1.0)
        assert_close(method.weights(losses, None), 1.0 / (2.0 * losses.numpy()), rtol=1e-5)


# --------------------------------------------------------------------------------------------------
# Checks used instead of permutation equivariance for the methods that draw random numbers


def instead_rlw() -> None:
    """RLW draws w independently of its inputs, so equivariance of one draw does not apply; checked
    instead: with the same seed the draws do not depend on the inputs (permuted, other or scaled losses
    and Gramians give the same weights); exchangeability of the distribution is in its scale law."""
    for k in K_VALUES:
        steps = trajectory(0, k, 5)
        a, b = build("rlw", k, seed=7), build("rlw", k, seed=7)
        perm = permutation(k, k)
        for step, other in zip(steps, trajectory(1, k, 5), strict=True):
            w = run_step(a, step)
            other = other.permuted(perm)
            assert torch.equal(run_step(b, Step(3.0 * other.losses, other.gramian, other.after, other.epoch_means)), w)


def instead_pcgrad() -> None:
    """PCGrad visits the other tasks in a random order drawn from its generator, indexed by task, so one
    draw is not equivariant in general. Checked instead: with K = 2 the order cannot matter, so exact
    equivariance; with K = 3, for the inputs and for the permuted inputs, the update J^T w is one of the
    updates of the explicit projections over all orders (a set that task permutation leaves unchanged)."""
    for seed in SEEDS:
        j, losses = jacobian(seed, 2, conflicting=True), losses_for(seed, 2)
        perm = np.array([1, 0])
        w = fresh_weights("pcgrad", t64(losses), gram(j), seed=seed)
        assert_close(fresh_weights("pcgrad", t64(losses[perm]), gram(j[perm]), seed=seed), w[perm], rtol=1e-12)
        j3, losses3 = jacobian(seed, 3, conflicting=True), losses_for(seed, 3)
        perm3 = permutation(seed, 3)
        for draw in range(4):  # several generator states
            w = fresh_weights("pcgrad", t64(losses3), gram(j3), seed=draw).numpy()
            assert_pcgrad_update_possible(j3, w)
            wp = fresh_weights("pcgrad", t64(losses3[perm3]), gram(j3[perm3]), seed=draw).numpy()
            assert_pcgrad_update_possible(j3[perm3], wp)


# --------------------------------------------------------------------------------------------------
# Per-method declarations: how the properties apply is declared on each class (``properties``, a
# :class:`~autoscale.methods.base.PropertySpec`); the scale laws of the methods tested here are below,
# those of newer methods live in their own test modules.

FUNCTION, TRAJECTORY, RANDOM = "function", "trajectory", "random"

LAWS: dict[str, Callable[[], None]] = {
    "alignedmtl": law_alignedmtl,
    "autoscale": law_autoscale,
    "cagrad": law_cagrad,
    "dwa": law_dwa,
    "famo": law_famo,
    "gradnorm": law_gradnorm,
    "imtlg": law_imtlg,
    "linear": law_linear,
    "mgda": law_mgda,
    "mgda_ub": law_mgda_ub,
    "nashmtl": law_nashmtl,
    "pcgrad": law_pcgrad,
    "rlw": law_rlw,
    "unitary": law_unitary,
    "uw": law_uw,
}


def random_method_checks() -> dict[str, Callable[[], None]]:
    """What is checked instead of permutation equivariance for the methods that draw random numbers:
    a function ``instead_<method>`` in any test module (this one for the methods tested here, a
    newer method's own test module for it), found by name so that adding a method touches no list."""
    checks: dict[str, Callable[[], None]] = {}
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        names = [
            node.name
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("instead_")
        ]
        if names:
            module = sys.modules[__name__] if path == Path(__file__) else importlib.import_module(path.stem)
            checks.update({name.removeprefix("instead_"): getattr(module, name) for name in names})
    return checks


INSTEAD = random_method_checks()


def spec_of(name: str) -> PropertySpec:
    return method_class(name).properties


def registry_params() -> list[Any]:
    """Every registered method, with its equivariance kind in the test id."""
    return [pytest.param(name, id=f"{name}-{spec_of(name).equivariance}") for name in available_methods()]


# --------------------------------------------------------------------------------------------------
# Tests


def test_every_registered_method_declares_its_properties() -> None:
    for name in available_methods():
        spec = spec_of(name)
        assert isinstance(spec, PropertySpec), name
        assert spec.equivariance in (FUNCTION, TRAJECTORY, RANDOM), name
        assert spec.equivariance == FUNCTION or spec.reason, f"{name}: say why equivariance is checked differently"
        assert spec.equivariance != RANDOM or name in INSTEAD, f"{name}: random method without a check in INSTEAD"
    stale = sorted((set(LAWS) | set(INSTEAD)) - set(available_methods()))
    assert not stale, f"laws of methods no longer registered: {stale}"


def test_minimal_options_are_required() -> None:
    """The options of SPECS are the required ones: the methods that take them fail without."""
    for name in available_methods():
        options = spec_of(name).options(3)
        if options:
            with pytest.raises(TypeError):
                build_method(name, 3)
        build_method(name, 3, **options)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", registry_params())
def test_finite_weights_of_shape_k(name: str, dtype: torch.dtype) -> None:
    for k, seed in itertools.product(K_VALUES, SEEDS):
        method = build(name, k)
        for step in trajectory(seed, k, 3):
            # The capability flags a training loop reads before and after each step.
            assert type(method.needs_gramian) is bool and type(method.needs_post_step_losses) is bool
            assert method.gramian_source in ("shared", "representation")
            w = run_step(method, step.to(dtype))
            assert w.shape == (k,) and w.dtype == dtype, (k, seed, w)
            assert torch.isfinite(w).all(), (k, seed, w)


@pytest.mark.parametrize("name", registry_params())
def test_permutation_equivariance(name: str) -> None:
    spec = spec_of(name)
    if spec.equivariance == RANDOM:
        INSTEAD[name]()
        return
    for k, seed in itertools.product(K_VALUES, SEEDS[:2]):
        perm = permutation(seed, k)
        options = {**spec.options(k), **spec.state_options}
        original = build_method(name, k, **options)
        permuted = build_method(name, k, **spec.permute_options(options, perm))
        for t, step in enumerate(trajectory(seed, k, 8 if spec.equivariance == TRAJECTORY else 3)):
            where = f"K={k} seed={seed} step={t} perm={perm.tolist()}"
            w = run_step(original, step)
            assert_close(run_step(permuted, step.permuted(perm)), w[perm], rtol=spec.tol, atol=1e-12, err_msg=where)
            if spec.equivariance == FUNCTION:  # the weights depend on this step's inputs only
                fresh = run_step(build_method(name, k, **options), step)
                assert_close(fresh, w, rtol=spec.tol, atol=1e-12, err_msg=where)


@pytest.mark.parametrize("name", sorted(LAWS))
def test_scale_law(name: str) -> None:
    LAWS[name]()


@pytest.mark.parametrize("name", ["mgda", "mgda_ub"])
def test_mgda_invariant_to_a_common_loss_scale(name: str) -> None:
    """The min-norm point of the hull of g_i / n_i does not change when every n_i is multiplied by the same
    factor (G' -> G' / c^2, the simplex constraint fixes the scale of w): with the default "loss+",
    multiplying all losses by c must leave w unchanged, and with "none" so must G -> c G. The reference
    is the method's weights at c = 1, themselves checked against KKT and SLSQP in its scale law."""
    for k, seed in itertools.product(K_VALUES, SEEDS):
        j, losses = jacobian(seed, k, conflicting=True), losses_for(seed, k)
        w = fresh_weights(name, t64(losses), gram(j))
        w_none = fresh_weights(name, t64(losses), gram(j), normalization="none")
        for c in SCALES:
            assert_close(fresh_weights(name, t64(c * losses), gram(j)), w, rtol=1e-9, atol=1e-12, err_msg=f"{k} {c}")
            assert_close(
                fresh_weights(name, t64(losses), c**-2 * gram(j), normalization="none"), w_none, rtol=1e-9, atol=1e-12
            )


DEGENERATE = ("zero", "duplicate", "zero_gradient")


def degenerate_jacobian(case: str, seed: int) -> np.ndarray:
    j = jacobian(seed, 3)
    if case == "zero":
        return np.zeros_like(j)
    if case == "duplicate":
        j[1] = j[0]
    else:
        j[2] = 0.0
    return j


# Values documented for degenerate inputs, checked where a docstring gives one (weights of the 3 steps).
DOCUMENTED: dict[tuple[str, str], Callable[[np.ndarray, list[np.ndarray]], None]] = {
    # "returns zeros when the normaliser vanishes"
    ("imtlg", "zero"): lambda j, ws: assert_close(ws[-1], np.zeros(3), rtol=0),
    # "every gradient is zero: no update"
    ("alignedmtl", "zero"): lambda j, ws: assert_close(ws[-1], np.zeros(3), rtol=0),
    # "a zero gradient stays zero, so the min-norm point is 0": all the weight on that task
    ("mgda", "zero_gradient"): lambda j, ws: assert_close(ws[-1], [0.0, 0.0, 1.0], rtol=0, atol=1e-12),
    ("mgda_ub", "zero_gradient"): lambda j, ws: assert_close(ws[-1], [0.0, 0.0, 1.0], rtol=0, atol=1e-12),
    # nothing conflicts
    ("pcgrad", "zero"): lambda j, ws: assert_close(ws[-1], np.ones(3), rtol=0),
    # "singular G with a non-negative null direction (a zero gradient): the previous alpha is kept"
    ("nashmtl", "zero"): lambda j, ws: assert_close(np.stack(ws), np.ones((3, 3)), rtol=0),
    ("nashmtl", "zero_gradient"): lambda j, ws: assert_close(np.stack(ws), np.ones((3, 3)), rtol=0),
    # window solver: "if no task is informative, w = 1"; "a task that is zero at every step gets 1"
    ("autoscale", "zero"): lambda j, ws: assert_close(ws[-1], np.ones(3), rtol=1e-12),
    ("autoscale", "zero_gradient"): lambda j, ws: (
        assert_close(ws[-1][2], 1.0, rtol=1e-12),
        assert_close(ws[-1].sum(), 3.0, rtol=1e-12),
    ),
}

# Methods whose docstring announces a warning on degenerate input.
WARNS = {"nashmtl": "keeps the previous weights or falls back, with a warning", "cagrad": "SLSQP failure warning"}


@pytest.mark.parametrize("case", DEGENERATE)
@pytest.mark.parametrize("name", registry_params())
def test_degenerate_gramians(name: str, case: str) -> None:
    spec = spec_of(name)
    options = {**spec.options(3), **spec.state_options}
    if name == "autoscale":
        options |= {"total_steps": 3, "alpha": 2 / 3, "window": 1}  # phase 2 at the third step
    for seed in SEEDS[:2]:
        j = degenerate_jacobian(case, seed)
        method = build_method(name, 3, **options)
        weights = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for step in trajectory(seed, 3, 3):
                step.gramian = gram(j)
                w = run_step(method, step)
                assert w.shape == (3,) and torch.isfinite(w).all(), (case, seed, w)
                weights.append(w.numpy())
        if name not in WARNS:
            assert not caught, [str(c.message) for c in caught]
        if (name, case) in DOCUMENTED:
            DOCUMENTED[name, case](j, weights)


@pytest.mark.parametrize("name", registry_params())
def test_state_round_trip(name: str) -> None:
    check_round_trip(name, None)


@pytest.mark.parametrize("explore", ["famo", "uw", "pcgrad", "gradnorm"])
def test_state_round_trip_autoscale_explorers(explore: str) -> None:
    check_round_trip("autoscale", explore)


def check_round_trip(name: str, explore: str | None) -> None:
    """3 steps, state_dict(), 5 more steps; a new instance (another seed where the method takes one)
    loads the state and must give exactly the same 5 weights. The state is taken before the original
    runs on, so a state that aliases live tensors shows up."""
    spec = spec_of(name)
    options = {**spec.options(3), **spec.state_options}
    if explore is not None:
        options["explore"] = explore
        if "seed" in inspect.signature(method_class(explore)).parameters:
            options["explore_options"] = {"seed": 1}
    steps = trajectory(5, 3, 8)
    original = build_method(name, 3, **options)
    for step in steps[:3]:
        run_step(original, step)
    state = original.state_dict()
    expected = [run_step(original, step) for step in steps[3:]]
    other = dict(options)
    if "seed" in inspect.signature(method_class(name)).parameters:
        other["seed"] = 12345  # the generator's state must come from the checkpoint, not the constructor
    restored = build_method(name, 3, **other)
    restored.load_state_dict(state)
    for t, step in enumerate(steps[3:]):
        w = run_step(restored, step)
        assert torch.equal(w, expected[t]), (t, w, expected[t])
