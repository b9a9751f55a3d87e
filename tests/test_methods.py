"""Weighting methods: hand-derived values, optimality properties, state, errors, a training smoke test.

Every expected value here is derived independently of the implementation: by hand on 2-3 task
examples (orthogonal, parallel, conflicting, badly scaled gradients), by brute force, or with scipy.
"""

from __future__ import annotations

import copy
import io
import itertools
import math

import cvxpy as cp
import numpy as np
import pytest
import torch
from helpers import NoHostSync
from scipy.optimize import minimize
from torch import Tensor, nn

from autoscale.gramian import naive_gramian
from autoscale.methods import available_methods, build_method, method_class
from autoscale.methods._common import min_norm_point
from autoscale.methods.base import RunContext, Weighting
from autoscale.methods.nashmtl import nash_fixed_point

torch.set_default_dtype(torch.float32)

EXPECTED = {
    "unitary", "linear", "rlw", "uw", "dwa", "gradnorm", "famo",
    "mgda", "mgda_ub", "pcgrad", "imtlg", "alignedmtl", "cagrad", "nashmtl",
}  # fmt: skip
OPTIONS = {"linear": {"weights": [1.0, 2.0]}}


def make(name: str, num_tasks: int = 2, **options: object) -> Weighting:
    required = method_class(name).properties.options(num_tasks)
    return build_method(name, num_tasks, **{**required, **OPTIONS.get(name, {}), **options})


def gram(rows: list[list[float]]) -> Tensor:
    j = torch.tensor(rows, dtype=torch.float64)
    return j @ j.T


def random_jacobian(seed: int, k: int, p: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    scales = torch.exp(torch.randn(k, 1, generator=g, dtype=torch.float64))  # badly scaled rows
    return scales * torch.randn(k, p, generator=g, dtype=torch.float64)


ONES2 = torch.ones(2, dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# Registry and input checks


def test_registry_names() -> None:
    names = set(available_methods())
    assert names >= EXPECTED


def test_unknown_method_lists_available() -> None:
    with pytest.raises(ValueError, match=r"unknown method 'nope'.*imtlg.*nashmtl"):
        build_method("nope", 2)


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("dwa", {"temperature": 0}, "temperature"),
        ("mgda", {"normalization": "bad"}, "normalization"),
        ("alignedmtl", {"scale_mode": "max"}, "scale_mode"),
        ("cagrad", {"c": -1}, "c must be"),
        ("cagrad", {"rescale": 3}, "rescale"),
        ("nashmtl", {"solver": "ECOS_BB"}, "exponential-cone"),
        ("nashmtl", {"optim_niter": 0}, "optim_niter"),
        ("famo", {"min_losses": [0.0]}, "min_losses"),
        ("gradnorm", {"lr": 0}, "lr"),
        ("rlw", {"seed": 1.5}, "seed"),
    ],
)
def test_bad_options_raise(name: str, options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(name, **options)


@pytest.mark.parametrize("name", available_methods())
def test_non_finite_inputs_name_the_task(name: str) -> None:
    method = make(name, 2)
    good_g = gram([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="task 1"):
        method.check_inputs(torch.tensor([1.0, float("nan")]), good_g)
    bad_g = good_g.clone()
    bad_g[0, 0] = float("inf")
    with pytest.raises(ValueError, match="task 0"):
        method.check_inputs(torch.ones(2), bad_g)
    if name in ("unitary", "linear"):  # fixed weights: the trainer's check is the only one
        return
    with pytest.raises(ValueError, match="task 1"):  # the methods check their inputs too
        method.weights(torch.tensor([1.0, float("nan")], dtype=torch.float64), good_g)


# ---------------------------------------------------------------------------------------------
# Gradient-manipulating methods


def test_imtlg_hand_value_and_equal_projections() -> None:
    # g1 = (1, 0), g2 = (0, 2): alpha ∝ G^-1 (|g1|, |g2|) = (1, 1/2) -> (2/3, 1/3); d = (2/3, 2/3).
    w = make("imtlg").weights(ONES2, gram([[1.0, 0.0], [0.0, 2.0]]))
    assert torch.allclose(w, torch.tensor([2 / 3, 1 / 3], dtype=torch.float64))
    for seed in range(5):
        j = random_jacobian(seed, 3, 5)
        w = make("imtlg", 3).weights(torch.ones(3, dtype=torch.float64), j @ j.T)
        d = j.T @ w
        projections = (j @ d) / j.norm(dim=1)
        assert w.sum().item() == pytest.approx(1.0, abs=1e-12)
        assert torch.allclose(projections, projections.mean().expand(3), rtol=1e-8)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([[1.0, 0.0], [0.0, 2.0]], [0.8, 0.2]),  # orthogonal: |w1 g1 + w2 g2|^2 = w1^2 + 4 w2^2
        ([[1.0, 0.0], [2.0, 0.0]], [1.0, 0.0]),  # parallel: the shorter gradient
        ([[1.0, 0.0], [-1.0, 0.0]], [0.5, 0.5]),  # opposite: the origin
    ],
)
def test_mgda_hand_values(rows: list[list[float]], expected: list[float]) -> None:
    w = make("mgda", normalization="none").weights(ONES2, gram(rows))
    assert torch.allclose(w, torch.tensor(expected, dtype=torch.float64), atol=1e-12)


def test_mgda_loss_plus_normalization() -> None:
    # n = L_i |g_i| = (1*1, 2*2); G' = diag(1, 4/16) -> min-norm weights (0.2, 0.8), applied to raw losses.
    w = make("mgda").weights(torch.tensor([1.0, 2.0], dtype=torch.float64), gram([[1.0, 0.0], [0.0, 2.0]]))
    assert torch.allclose(w, torch.tensor([0.2, 0.8], dtype=torch.float64))
    assert make("mgda_ub").gramian_source == "representation"
    assert make("mgda").gramian_source == "shared"


@pytest.mark.parametrize("seed", range(8))
def test_mgda_kkt_and_scipy_qp(seed: int) -> None:
    k = 2 + seed % 4
    j = random_jacobian(seed, k, 1 + seed % 5)  # includes rank-deficient cases (p < k)
    g = j @ j.T
    w = make("mgda", k, normalization="none").weights(torch.ones(k, dtype=torch.float64), g)
    d = j.T @ w
    tol = 1e-9 * g.diagonal().max().item()
    assert (w >= 0).all() and w.sum().item() == pytest.approx(1.0, abs=1e-12)
    slack = j @ d - d @ d
    assert (slack >= -tol).all()
    assert slack[w > 1e-9].abs().max() <= tol  # complementary slackness on the support
    a = g.numpy()
    qp = minimize(
        lambda x: x @ a @ x,
        np.full(k, 1 / k),
        jac=lambda x: 2 * a @ x,
        bounds=[(0, 1)] * k,
        constraints={"type": "eq", "fun": lambda x: x.sum() - 1},
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 500},
    )
    assert (d @ d).item() <= qp.fun + tol


def test_pcgrad_two_tasks_hand_formula() -> None:
    rows = [[1.0, 0.0], [-1.0, 1.0]]  # g1 · g2 = -1
    w = make("pcgrad", seed=0).weights(ONES2, gram(rows))
    # g1' = g1 - (g1·g2/|g2|^2) g2 = g1 + g2/2, g2' = g2 - (g1·g2/|g1|^2) g1 = g2 + g1 -> w = (2, 1.5).
    assert torch.allclose(w, torch.tensor([2.0, 1.5], dtype=torch.float64))
    j = torch.tensor(rows, dtype=torch.float64)
    g1p, g2p = j[0] + 0.5 * j[1], j[1] + j[0]
    assert torch.allclose(g1p + g2p, j.T @ w)
    assert g1p @ j[1] == pytest.approx(0.0) and g2p @ j[0] == pytest.approx(0.0)
    assert g1p @ g2p >= 0
    no_conflict = make("pcgrad").weights(ONES2, gram([[1.0, 0.0], [1.0, 1.0]]))
    assert torch.equal(no_conflict, ONES2)


def test_pcgrad_three_tasks_matches_explicit_projections() -> None:
    j = torch.tensor([[1.0, 0.0, 0.0], [-0.5, 1.0, 0.0], [-0.4, -0.6, 1.0]], dtype=torch.float64)

    def project(i: int, order: tuple[int, ...]) -> Tensor:
        g = j[i].clone()
        for other in order:
            if g @ j[other] < 0:
                g = g - (g @ j[other]) / (j[other] @ j[other]) * j[other]
        return g

    # Every outcome of the random orders, from the gradient vectors themselves.
    outcomes = [
        project(0, a) + project(1, b) + project(2, c)
        for a in itertools.permutations((1, 2))
        for b in itertools.permutations((0, 2))
        for c in itertools.permutations((0, 1))
    ]
    seen = set()
    for seed in range(6):
        method = make("pcgrad", 3, seed=seed)
        w = method.weights(torch.ones(3, dtype=torch.float64), j @ j.T)
        again = make("pcgrad", 3, seed=seed).weights(torch.ones(3, dtype=torch.float64), j @ j.T)
        assert torch.equal(w, again)
        matches = [n for n, d in enumerate(outcomes) if torch.allclose(j.T @ w, d, atol=1e-12)]
        assert matches
        seen.add(matches[0])
    assert len(seen) > 1  # the order really is random


def test_alignedmtl_condition_number_one_and_scale() -> None:
    method = make("alignedmtl", 3)
    for seed in range(5):
        j = random_jacobian(seed, 3, 6)
        g = j @ j.T
        b = method.balance_transformation(g)
        aligned = j.T @ b  # columns: aligned task gradients
        s = torch.linalg.svdvals(aligned)
        assert (s.max() / s.min()).item() == pytest.approx(1.0, abs=1e-8)
        # Official scale: the sum of the aligned gradients, i.e. w = B 1; smallest singular value kept.
        w = method.weights(torch.ones(3, dtype=torch.float64), g)
        assert torch.allclose(w, b.sum(dim=1))
        assert s.min().item() ** 2 == pytest.approx(torch.linalg.eigvalsh(g).min().item(), rel=1e-8)
    # Hand value: G = diag(1, 4), lambda_min = 1, B = diag(1, 1/2).
    w = make("alignedmtl").weights(ONES2, gram([[1.0, 0.0], [0.0, 2.0]]))
    assert torch.allclose(w, torch.tensor([1.0, 0.5], dtype=torch.float64))


def test_alignedmtl_float32_gramian_of_nearly_dependent_gradients() -> None:
    # g_2 = 0.7 g_1: rank one. The float32 Gramian's rounding leaves a small positive eigenvalue
    # (8e-7 here, against 90); a float64 cutoff would keep it as lambda_min and shrink the update
    # to ~1e-3 with a negative weight. Cut off at float32 precision, as the official code (which
    # computes in float32), only the rank-one part remains: B = v v^T with v = (1, 0.7)/|(1, 0.7)|,
    # so w = B 1 = v (v . 1) = (1, 0.7) * 1.7 / 1.49, and |d| = (w_1 + 0.7 w_2) |g_1| = 1.7 |g_1|.
    jac = np.random.default_rng(2).normal(size=(2, 64))
    jac[1] = 0.7 * jac[0]
    j32 = jac.astype(np.float32)
    g32 = torch.from_numpy(j32 @ j32.T)
    assert g32.dtype == torch.float32 and torch.linalg.eigvalsh(g32.double()).min() > 0  # the noise
    w = make("alignedmtl").weights(torch.ones(2), g32)
    expected = np.array([1.0, 0.7]) * 1.7 / 1.49
    assert np.allclose(w.numpy(), expected, rtol=1e-5)
    update = np.linalg.norm(jac.T @ w.double().numpy())
    assert update == pytest.approx(1.7 * np.linalg.norm(jac[0]), rel=1e-5)
    assert update == pytest.approx(13.2, abs=0.05)
    # The same numbers claimed to be a float64 Gramian are taken at their word: the tiny eigenvalue
    # is then signal, and the update collapses (what happened before the cutoff followed the source).
    collapsed = make("alignedmtl").weights(torch.ones(2, dtype=torch.float64), g32.double())
    assert np.linalg.norm(jac.T @ collapsed.numpy()) < 0.01
    assert collapsed.min() < 0


def test_cagrad_c_zero_is_summed_gradient() -> None:
    j = random_jacobian(3, 3, 4)
    w = make("cagrad", 3, c=0.0).weights(torch.ones(3, dtype=torch.float64), j @ j.T)
    assert torch.allclose(w, torch.ones(3, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_cagrad_solves_its_problem(seed: int) -> None:
    c, k = 0.4, 3
    j = random_jacobian(seed, k, 3)
    j[1] = -0.5 * j[0] + 0.3 * j[1]  # a conflicting pair
    g = j @ j.T
    w = make("cagrad", k, c=c).weights(torch.ones(k, dtype=torch.float64), g)
    d = j.T @ w * (1 + c**2) / k  # undo the official rescaling and factor K
    g0 = j.mean(dim=0)
    radius = c * g0.norm()
    assert (d - g0).norm().item() == pytest.approx(radius.item(), rel=1e-4)
    # Primal: d maximises min_i g_i · d over the ball |d - g0| <= c |g0| (brute force on the sphere).
    u = torch.randn(200_000, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    candidates = g0 + radius * u / u.norm(dim=1, keepdim=True)
    best_sampled = (candidates @ j.T).min(dim=1).values.max()
    ours = (j @ d).min()
    scale = g.diagonal().max()
    assert ours >= best_sampled - 1e-6 * scale
    assert ours - best_sampled <= 1e-3 * scale
    # Dual: for x in the simplex, min_i g_i·d <= g_x·d <= F(x) = x^T G 1/K + rho |g_x|, with equality at
    # the optimum, so F over the simplex (brute force on a grid, faces included) has its minimum at our value.
    n = 300
    x = torch.tensor([(a, b, n - a - b) for a in range(n + 1) for b in range(n + 1 - a)], dtype=torch.float64) / n
    f = x @ g @ torch.full((k,), 1 / k, dtype=torch.float64) + radius * (x @ j).norm(dim=1)
    assert f.min() >= ours - 1e-6 * scale
    assert f.min() - ours <= 1e-3 * scale


def test_nashmtl_hand_value_and_fixed_point(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    solve = cp.Problem.solve

    def counting_solve(self: cp.Problem, *args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("solver"))
        return solve(self, *args, **kwargs)

    monkeypatch.setattr(cp.Problem, "solve", counting_solve)
    # Orthogonal: alpha_i^2 |g_i|^2 = 1 -> alpha = (1, 1/2).
    w = make("nashmtl").weights(ONES2, gram([[1.0, 0.0], [0.0, 2.0]]))
    assert torch.allclose(w, torch.tensor([1.0, 0.5], dtype=torch.float64), rtol=1e-4)
    assert calls and set(calls) == {"CLARABEL"}
    j = torch.tensor([[1.0, 0.2, 0.0], [0.3, 2.0, 0.1], [0.0, -0.4, 0.5]], dtype=torch.float64)
    for scale in (1e-6, 1.0, 1e4):  # the official sequence is run scale-free
        g = scale * (j @ j.T)
        method = make("nashmtl", 3)
        alpha = method.weights(torch.ones(3, dtype=torch.float64), g)
        assert torch.allclose(g @ alpha, 1 / alpha, rtol=1e-4)
        assert method.record() == {"solver_failures": 0, "kept_previous": 0}


def test_nashmtl_solver_failure_is_counted_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_solve(self: cp.Problem, *args: object, **kwargs: object) -> object:
        raise cp.SolverError("injected")

    monkeypatch.setattr(cp.Problem, "solve", failing_solve)
    method = make("nashmtl")
    g = gram([[1.0, 0.5], [0.0, 2.0]])
    with pytest.warns(UserWarning, match="injected"):
        alpha = method.weights(ONES2, g)
    assert method.record()["solver_failures"] == 1
    assert torch.allclose(g @ alpha, 1 / alpha, rtol=1e-8)  # the exact fixed point
    # No solution (a task with zero gradient): previous weights kept, counted and warned.
    with pytest.warns(UserWarning, match="keeping the previous weights"):
        kept = method.weights(ONES2, gram([[1.0, 0.0], [0.0, 0.0]]))
    assert torch.equal(kept, alpha)
    assert method.record() == {"solver_failures": 2, "kept_previous": 1}


def test_nashmtl_reuses_weights_between_updates() -> None:
    method = make("nashmtl", update_weights_every=2)
    assert method.needs_gramian
    first = method.weights(ONES2, gram([[1.0, 0.0], [0.0, 2.0]]))
    assert not method.needs_gramian
    assert torch.equal(method.weights(ONES2, None), first)
    assert method.needs_gramian
    assert method.max_grad_norm == 1.0
    assert make("nashmtl", max_norm=0.0).max_grad_norm is None  # 0 disables clipping


# ---------------------------------------------------------------------------------------------
# Loss-based methods


def test_rlw_softmax_normal_and_seed() -> None:
    a, b = make("rlw", 3, seed=5), make("rlw", 3, seed=5)
    losses = torch.ones(3)
    draws = [a.weights(losses, None) for _ in range(4)]
    assert all(w.sum().item() == pytest.approx(1.0, abs=1e-6) and (w > 0).all() for w in draws)
    assert all(torch.equal(w, b.weights(losses, None)) for w in draws)
    assert not torch.equal(draws[0], draws[1])
    z = torch.randn(3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert torch.allclose(draws[0], torch.softmax(z, 0).float())


def test_dwa_three_epochs_by_hand() -> None:
    method = make("dwa")
    losses = torch.tensor([3.0, 4.0])
    assert torch.equal(method.weights(losses, None), torch.ones(2))  # epoch 0
    method.epoch_end(torch.tensor([1.0, 2.0]))
    assert torch.equal(method.weights(losses, None), torch.ones(2))  # epoch 1
    method.epoch_end(torch.tensor([0.5, 1.5]))
    # epoch 2: r = (0.5, 0.75), w = 2 exp(r/2) / sum exp(r/2)
    e1, e2 = math.exp(0.25), math.exp(0.375)
    expected = torch.tensor([2 * e1 / (e1 + e2), 2 * e2 / (e1 + e2)])
    assert torch.allclose(method.weights(losses, None), expected)


def test_uw_gradient_matches_closed_form() -> None:
    method = make("uw")
    assert torch.allclose(method.log_var, torch.full((2,), -0.5))
    losses = torch.tensor([0.7, 2.0])
    w = method.weights(losses, None)
    assert torch.allclose(w, 0.5 * torch.exp(torch.tensor(0.5)).expand(2))
    method.objective(losses, w).backward()
    s = method.log_var.detach()
    assert torch.allclose(method.log_var.grad, -losses * torch.exp(-s) / 2 + 0.5)
    assert method.parameters() == [method.log_var]


def test_gradnorm_moves_weight_to_slow_small_gradient_task() -> None:
    method = make("gradnorm")
    g = gram([[1.0, 0.0], [0.0, 0.5]])  # task 1 has the smaller gradient
    w0 = method.weights(torch.tensor([1.0, 1.0], dtype=torch.float64), g)
    assert torch.equal(w0, ONES2)
    # Weighted norms (1, 0.5), target 0.75 each: d/dw = (+1, -0.5); Adam's first step is lr * sign.
    w1 = method.weights(torch.tensor([0.5, 0.9], dtype=torch.float64), g)  # task 1 also trains slower
    assert torch.allclose(w1, torch.tensor([0.975, 1.025], dtype=torch.float64), atol=1e-6)
    w2 = method.weights(torch.tensor([0.4, 0.9], dtype=torch.float64), g)
    assert w2[1] > w1[1] and w2.sum().item() == pytest.approx(2.0)


def test_famo_weights_give_the_log_objective_gradient() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    x, y = torch.randn(16, 3), torch.randn(16, 2)
    method = make("famo")
    with torch.no_grad():
        method.logits.copy_(torch.tensor([0.3, -0.2]))

    def losses() -> Tensor:
        return ((model(x) - y) ** 2).mean(dim=0)

    z = torch.softmax(method.logits.detach(), 0)
    current = losses()
    c = (z / current).sum().detach()
    log_grad = torch.autograd.grad((z / c * torch.log(current)).sum(), list(model.parameters()))
    w = method.weights(current.detach(), None)
    assert w.sum().item() == pytest.approx(1.0, abs=1e-6)
    weighted_grad = torch.autograd.grad(method.objective(losses(), w), list(model.parameters()))
    for a, b in zip(log_grad, weighted_grad, strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_famo_post_step_by_hand() -> None:
    method = make("famo")
    method.weights(torch.tensor([1.0, 1.0]), None)
    method.post_step(torch.tensor([0.5, 0.9]))
    # delta = (log 2, log(1/0.9)); z = (1/2, 1/2); grad = z (delta - z·delta) = (+q, -q), q > 0.
    # Adam's first step (weight decay acts on xi = 0) moves each logit by lr * sign(grad).
    expected_logits = torch.tensor([-0.025, 0.025])
    assert torch.allclose(method.logits.detach(), expected_logits, atol=1e-7)
    w = method.weights(torch.tensor([2.0, 2.0]), None)  # equal losses: w = z
    assert torch.allclose(w, torch.softmax(expected_logits, 0), atol=1e-7)


# ---------------------------------------------------------------------------------------------
# State round trips


def _drive(method: Weighting, step: int) -> Tensor:
    """One step of a fake training loop with deterministic, changing losses and Gramian."""
    k = method.num_tasks
    losses = torch.tensor([1.0 / (1 + step + i) + 0.1 for i in range(k)], dtype=torch.float64)
    j = random_jacobian(step, k, 4)
    w = method.weights(losses, j @ j.T if method.needs_gramian else None)
    if method.needs_post_step_losses:
        method.post_step(0.9 * losses)
    method.epoch_end(losses)
    return w


@pytest.mark.parametrize("name", ["rlw", "pcgrad", "dwa", "gradnorm", "famo", "uw", "nashmtl", "cagrad"])
def test_state_dict_round_trip(name: str) -> None:
    options = {"seed": 1} if name in ("rlw", "pcgrad") else {}
    first = make(name, 3, **options)
    for step in range(3):
        _drive(first, step)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = make(name, 3, **({"seed": 99} if options else {}))
    second.load_state_dict(torch.load(buffer, weights_only=False))
    for step in range(3, 6):
        assert torch.equal(_drive(first, step), _drive(second, step))


# ---------------------------------------------------------------------------------------------
# End-to-end smoke: a tiny 2-task MLP trained for 5 steps with every method


class TwoTaskMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 8), nn.Tanh())
        self.heads = nn.ModuleList([nn.Linear(8, 1), nn.Linear(8, 1)])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.encoder(x)
        return z, torch.stack([((head(z).squeeze(1) - x[:, i]) ** 2).mean() for i, head in enumerate(self.heads)])


@pytest.mark.parametrize("name", available_methods())
def test_smoke_training(name: str) -> None:
    torch.manual_seed(0)
    model = TwoTaskMLP()
    method = make(name, 2)
    optimizer = torch.optim.SGD([*model.parameters(), *method.parameters()], lr=0.05)
    x = torch.randn(32, 4)
    for _ in range(5):
        z, losses = model(x)
        gramian = None
        if method.needs_gramian:
            inputs = [z] if method.gramian_source == "representation" else list(model.encoder.parameters())
            gramian = naive_gramian(losses, inputs)
        method.check_inputs(losses, gramian)
        w = method.weights(losses, gramian)
        assert w.shape == (2,) and torch.isfinite(w).all()
        optimizer.zero_grad()
        method.objective(losses, w).backward()
        if method.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.encoder.parameters(), method.max_grad_norm)
        optimizer.step()
        if method.needs_post_step_losses:
            with torch.no_grad():
                method.post_step(model(x)[1])
    method.epoch_end(losses.detach())
    assert all(torch.isfinite(p).all() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# The protocol a trainer relies on


def test_run_context_fills_declared_options_only() -> None:
    run = RunContext(total_steps=40, seed=7)
    autoscale = build_method("autoscale", 2, run=run)
    assert autoscale.total_steps == 40 and autoscale.switch_step == 8  # floor(0.2 * 40)
    assert build_method("autoscale", 2, run=run, total_steps=10).total_steps == 10  # the user's option wins
    # Seeded methods draw from the run's seed: the same weights as building them with seed=7.
    for name in ("rlw", "pcgrad"):
        assert method_class(name).run_options == ("seed",)
        from_run, explicit = build_method(name, 2, run=run), build_method(name, 2, seed=7)
        assert torch.equal(from_run.generator.get_state(), explicit.generator.get_state())
    # Methods that declare nothing get nothing (IMTL-G takes no seed and would reject one).
    assert method_class("imtlg").run_options == ()
    build_method("imtlg", 2, run=run)


def test_linear_objective_and_clipping_are_declared() -> None:
    assert build_method("linear", 2, weights=[1.0, 1.0]).linear_objective
    assert not build_method("uw", 2).linear_objective  # its objective adds the log-variance regulariser
    assert not build_method("autoscale", 2, total_steps=10, explore="uw").linear_objective
    assert build_method("autoscale", 2, total_steps=10).linear_objective
    assert build_method("famo", 2).max_grad_norm == 1.0
    assert build_method("famo", 2, max_norm=0.0).max_grad_norm is None
    assert build_method("imtlg", 2).max_grad_norm is None
    assert build_method("autoscale", 2, total_steps=10, explore="famo").max_grad_norm is None


def test_to_keeps_the_parameter_objects() -> None:
    # The optimiser is built after to(): it must see the same Parameter objects, moved in place.
    uw = build_method("uw", 3)
    before = uw.parameters()
    assert uw.to("cpu") is uw
    assert [id(p) for p in uw.parameters()] == [id(p) for p in before] and before[0].device.type == "cpu"


@pytest.mark.parametrize("scale", [1e-12, 1e-8, 1.0, 1e8, 1e12])
def test_min_norm_point_is_scale_free(scale: float) -> None:
    # K = 2 closed form: lam_1 = (G22 - G12) / (G11 + G22 - 2 G12) = 4/7 for G = [[2, -1], [-1, 3]].
    lam = min_norm_point(scale * np.array([[2.0, -1.0], [-1.0, 3.0]]))
    np.testing.assert_allclose(lam, [4 / 7, 3 / 7], rtol=1e-12)


def test_nash_fixed_point_converges_where_the_line_search_stalled() -> None:
    # A Gramian of three conflicting gradients on which the backtracking search used to give up a
    # few digits short of the tolerance (and Nash-MTL kept its previous weights).
    g = np.array([[25.05, -5.97, -17.01], [-5.97, 4.91, 0.82], [-17.01, 0.82, 19.18]])
    alpha = nash_fixed_point(g)
    assert alpha is not None and np.all(alpha > 0)
    np.testing.assert_allclose(alpha * (g @ alpha), 1.0, atol=1e-9)


def test_famo_state_follows_the_losses_to_their_device_without_host_waits() -> None:
    """On a GPU FAMO must not wait for the device (it did twice a step when its state lived on the
    host). Meta tensors stand in for a device: weights and post-step update read no device value, and
    the state (logits, Adam moments) moves with the losses, keeping what was learnt on the CPU."""
    method = make("famo")
    losses = torch.tensor([1.0, 0.5])
    method.weights(losses, None)
    method.post_step(losses * 0.9)
    moved = copy.deepcopy(method)
    on_device = losses.to("meta")
    moved.weights(on_device, None)  # the first step moves the state over (once)
    moved.post_step(on_device * 0.9)
    (state,) = moved.optimizer.state.values()
    assert state["exp_avg"].device.type == "meta" and int(state["step"]) == 2  # the CPU step's moments came along
    with NoHostSync(device_inputs=True):
        w = moved.weights(on_device, None)
        moved.post_step(on_device * 0.9)
    assert w.device.type == "meta" and moved.logits.device.type == "meta" and int(state["step"]) == 3
