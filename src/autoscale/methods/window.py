"""AutoScale's window solver: one exploration window of Gramians and losses reduced to weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import optimize
from torch import Tensor

COSTS = ("equal_grad", "equal_loss", "condition")

# A task magnitude (|g_i| or |l_i|) at most this fraction of the window's largest one counts as zero.
_ZERO_RTOL = 1e-12
# A step whose gradient correlation matrix has lambda_min below this is treated as singular ("condition").
_SINGULAR_TOL = 1e-10
# Log-weight range of the condition-number search, around the equal-magnitude point (ratios up to e^30).
_LOG_BOUND = 15.0


def check_option(what: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(choices)}")


# --------------------------------------------------------------------------------------------------
# Window costs
# --------------------------------------------------------------------------------------------------


def as_float64_array(x: Tensor | np.ndarray, name: str, ndim: int) -> np.ndarray:
    arr = (x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float64)).copy()
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains non-finite values")
    return arr


def _window_inputs(
    cost: str, gramians: Tensor | np.ndarray | None, losses: Tensor | np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Validated float64 numpy Gramians (τ, K, K) and losses (τ, K); only what ``cost`` needs is required."""
    check_option("cost", cost, COSTS)
    g = None if gramians is None else as_float64_array(gramians, "gramians", 3)
    l_ = None if losses is None else as_float64_array(losses, "losses", 2)
    if cost == "equal_loss" and l_ is None:
        raise ValueError("cost 'equal_loss' needs the losses (tau, K)")
    if cost != "equal_loss" and g is None:
        raise ValueError(f"cost {cost!r} needs the Gramians (tau, K, K)")
    if g is not None and (g.shape[1] != g.shape[2] or g.shape[0] == 0):
        raise ValueError(f"gramians must have shape (tau, K, K) with tau >= 1, got {g.shape}")
    if l_ is not None and l_.shape[0] == 0:
        raise ValueError("losses must hold at least one step")
    if g is not None and l_ is not None and l_.shape != g.shape[:2]:
        raise ValueError(f"losses shape {l_.shape} does not match gramians shape {g.shape}")
    return g, l_


def _magnitudes(cost: str, g: np.ndarray | None, l_: np.ndarray | None) -> np.ndarray:
    """Per-step task magnitudes (τ, K): |g_i^t| = sqrt(G^t_ii), or |l_i^t| for ``equal_loss``."""
    if cost == "equal_loss":
        return np.abs(l_)
    # Rounding can leave a tiny negative diagonal for a zero gradient.
    return np.sqrt(np.clip(np.diagonal(g, axis1=1, axis2=2), 0.0, None))


def _active(mags: np.ndarray) -> np.ndarray:
    """(τ, K) mask of nonzero magnitudes (relative to the window's largest)."""
    top = mags.max()
    return mags > _ZERO_RTOL * top if top > 0 else np.zeros_like(mags, dtype=bool)


def _pair_matrices(mags: np.ndarray) -> np.ndarray:
    """A^t (τ, P, K) of the paper's Eq. 2, rows with a zero magnitude zeroed (see :func:`solve_window`)."""
    tau, k = mags.shape
    i, j = np.triu_indices(k, 1)
    rows = np.arange(len(i))
    live = _active(mags)
    keep = (live[:, i] & live[:, j]).astype(np.float64)
    a = np.zeros((tau, len(i), k))
    a[:, rows, i] = mags[:, i] * keep
    a[:, rows, j] = -mags[:, j] * keep
    return a


def _equal_cost(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """mean_t ||A^t w|| for weights w (M, K) -> (M,)."""
    return np.linalg.norm(np.einsum("tpk,mk->mtp", a, w), axis=2).mean(axis=1)


def _condition_groups(g: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Steps of a window grouped by their set S of nonzero-gradient tasks, singular steps left out.

    Returns ``[(S, G^t restricted to S, stacked)]`` with each G^t divided by its trace (the condition
    number is invariant to a positive factor on G^t) and the (K,) scale n̄ (geometric mean over the
    window of each task's nonzero gradient norms, 1 where there is none), used to precondition.
    """
    mags = _magnitudes("condition", g, None)
    live = _active(mags)
    logs = np.where(live, np.log(np.where(live, mags, 1.0)), 0.0)
    counts = live.sum(axis=0)
    scale = np.exp(logs.sum(axis=0) / np.maximum(counts, 1))
    groups: dict[tuple[int, ...], list[np.ndarray]] = {}
    for t in range(g.shape[0]):
        s = np.flatnonzero(live[t])
        if len(s) < 2:  # one task alone always has condition number 1: no information on w
            continue
        sub = g[t][np.ix_(s, s)]
        norms = mags[t, s]
        if np.linalg.eigvalsh(sub / np.outer(norms, norms))[0] <= _SINGULAR_TOL:
            continue  # linearly dependent gradients: infinite condition number for every w
        groups.setdefault(tuple(s.tolist()), []).append(sub / np.trace(sub))
    return [(np.array(s), np.stack(mats)) for s, mats in groups.items()], scale


def _condition_value(groups: list[tuple[np.ndarray, np.ndarray]], w: np.ndarray) -> np.ndarray:
    """mean over the kept steps of sqrt(lambda_max / lambda_min)(W G^t W) for weights w (M, K) -> (M,)."""
    total = np.zeros(w.shape[0])
    count = 0
    for s, mats in groups:
        ws = w[:, s]
        m = ws[:, None, :, None] * mats[None] * ws[:, None, None, :]
        lam = np.linalg.eigvalsh(m)
        with np.errstate(divide="ignore"):
            total += np.sqrt(lam[..., -1] / np.clip(lam[..., 0], 0.0, None)).sum(axis=1)
        count += mats.shape[0]
    return total / count


def window_cost(
    cost: str,
    gramians: Tensor | np.ndarray | None,
    losses: Tensor | np.ndarray | None,
    weights: Tensor | np.ndarray,
) -> np.ndarray:
    """The window objective (1/τ) sum_t F^t(w) of :func:`solve_window`, for weights (K,) or (M, K).

    Evaluates exactly what :func:`solve_window` minimises, including its treatment of degenerate
    steps (terms of zero-magnitude tasks dropped; for ``"condition"``, singular steps left out —
    ``inf`` if no step is left or a weight is 0). Returns a float64 array of shape () or (M,).
    """
    g, l_ = _window_inputs(cost, gramians, losses)
    w = as_float64_array(weights, "weights", np.ndim(weights))
    batch = np.atleast_2d(w)
    if cost == "condition":
        groups, _ = _condition_groups(g)
        value = _condition_value(groups, batch) if groups else np.full(batch.shape[0], np.inf)
    else:
        value = _equal_cost(_pair_matrices(_magnitudes(cost, g, l_)), batch)
    return value.reshape(w.shape[:-1])


# --------------------------------------------------------------------------------------------------
# Window solver
# --------------------------------------------------------------------------------------------------


def _embed(num_tasks: int, tasks: np.ndarray, sub: np.ndarray) -> np.ndarray:
    """Full (K,) weights: ``sub`` (summing to len(tasks)) on ``tasks``, 1 on every other task."""
    w = np.ones(num_tasks)
    w[tasks] = sub
    return w


def _renormalise(w: np.ndarray, total: float) -> np.ndarray:
    w = np.clip(w, 0.0, None)
    return w * (total / w.sum())


def _solve_equal(mags: np.ndarray) -> np.ndarray:
    """Exact minimiser of mean_t ||A^t w|| over {w >= 0, sum w = K} (a convex second-order cone program).

    Only tasks that appear in at least one nonzero row of some A^t ("informative" tasks, k of them)
    are optimised, sharing a total of k; the others get weight 1, so the weights sum to K.
    """
    num_tasks = mags.shape[1]
    a_full = _pair_matrices(mags)
    tasks = np.flatnonzero(np.abs(a_full).sum(axis=(0, 1)) > 0)
    if len(tasks) == 0:
        return np.ones(num_tasks)
    k = len(tasks)
    sub_mags = mags[:, tasks]
    a = a_full[:, :, tasks]
    a = a[:, np.abs(a).sum(axis=(0, 2)) > 0]  # pairs that involve an uninformative task are all zero
    # Precondition: w_i = x_i / s_i with s_i the task's mean nonzero magnitude, so that x is O(1)
    # even when the tasks' magnitudes differ by orders of magnitude.
    live = _active(sub_mags)
    s = (sub_mags * live).sum(axis=0) / np.maximum(live.sum(axis=0), 1)
    s = s / s.max()
    candidates = [_solve_socp(a / s, 1.0 / s, k) / s]
    # The cost is nonsmooth only where some A^t w = 0, i.e. at w ∝ 1/|g^t| for steps where every task
    # is active; checking these points makes the zero-cost case (proportional magnitudes) exact.
    full_steps = live.all(axis=1)
    candidates += list(1.0 / sub_mags[full_steps])
    candidates = np.stack([_renormalise(c, k) for c in candidates if np.isfinite(c).all() and c.max() > 0])
    best = candidates[np.argmin(_equal_cost(a, candidates))]
    return _embed(num_tasks, tasks, best)


def _solve_socp(a: np.ndarray, inv_scale: np.ndarray, total: float) -> np.ndarray:
    """argmin_x mean_t ||a^t x|| s.t. inv_scale · x = total, x >= 0, with cvxpy's Clarabel.

    Interior-point to tolerance 1e-10 on the gap; if the solver fails, a smoothed SLSQP solve is used.
    """
    import cvxpy as cp  # imported here: cvxpy takes about a second to import

    tau, pairs, k = a.shape
    x = cp.Variable(k, nonneg=True)
    residuals = cp.reshape(a.reshape(tau * pairs, k) @ x, (tau, pairs), order="C")
    problem = cp.Problem(cp.Minimize(cp.sum(cp.norm(residuals, 2, axis=1)) / tau), [inv_scale @ x == total])
    try:
        problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        if problem.status == cp.OPTIMAL and x.value is not None:
            return np.asarray(x.value)
    except cp.SolverError:
        pass
    return _solve_smoothed(a, inv_scale, total)


def _solve_smoothed(a: np.ndarray, inv_scale: np.ndarray, total: float) -> np.ndarray:
    """SLSQP on mean_t sqrt(||a^t x||^2 + eps^2), the fallback of :func:`_solve_socp`."""
    eps2 = 1e-16
    k = a.shape[2]

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        r = np.einsum("tpk,k->tp", a, x)
        norms = np.sqrt((r**2).sum(axis=1) + eps2)
        grad = np.einsum("tpk,tp->k", a, r / norms[:, None]) / len(norms)
        return float(norms.mean()), grad

    x0 = np.full(k, total / inv_scale.sum())
    res = optimize.minimize(
        fun,
        x0,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, None)] * k,
        constraints=[{"type": "eq", "fun": lambda x: inv_scale @ x - total, "jac": lambda x: inv_scale}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    return res.x


def _solve_condition(g: np.ndarray) -> np.ndarray:
    """Multi-start minimiser of the mean condition number (non-convex, scale-invariant in w).

    Parametrisation: w_i = exp(theta_i) / n̄_i with theta in the (K-1)-dimensional subspace orthogonal
    to the ones vector (the cost does not depend on the scale of w), so the search is unconstrained and
    w > 0 (a zero weight makes W G W singular, so the optimum is interior). The gradient is analytic:
    for a simple eigenvalue lambda of W G W with unit eigenvector v, d log(lambda) / d theta_i = 2 v_i^2,
    so d kappa / d theta = kappa (v_max^2 - v_min^2) (elementwise squares). Each start runs L-BFGS-B;
    the best two results are polished with Nelder-Mead, which copes with the
    kinks where eigenvalues cross (the optimum of orthogonal gradients is such a kink). The search
    coordinates are bounded by 15 (weight ratios far beyond any useful range). Starts: the
    equal-magnitude point, the ``equal_grad`` solution (by van der Sluis' theorem, equal column norms
    are within a factor sqrt(K) of the optimal column scaling for one step) and 8 seeded random points,
    so the result is deterministic.
    """
    num_tasks = g.shape[1]
    groups, scale = _condition_groups(g)
    if not groups:
        # No step with two or more linearly independent nonzero gradients: every w has an infinite
        # (or, with one task, trivial) condition number. Balance the magnitudes instead, which is
        # what the condition number rewards (van der Sluis).
        return _solve_equal(_magnitudes("condition", g, None))
    tasks = np.unique(np.concatenate([s for s, _ in groups]))
    k = len(tasks)
    local = {t: i for i, t in enumerate(tasks.tolist())}
    groups = [(np.array([local[t] for t in s.tolist()]), mats) for s, mats in groups]
    sub_scale = scale[tasks]
    # Orthonormal basis of the complement of the ones vector.
    basis = np.linalg.svd(np.eye(k) - 1.0 / k)[0][:, : k - 1]
    normalised = [(s, mats / np.outer(sub_scale[s], sub_scale[s])[None]) for s, mats in groups]
    steps = sum(m.shape[0] for _, m in normalised)

    def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
        d = np.exp(basis @ z)
        total, grad = 0.0, np.zeros(k)
        for s, mats in normalised:
            ds = d[s]
            lam, vec = np.linalg.eigh(ds[None, :, None] * mats * ds[None, None, :])
            lam_min = np.maximum(lam[:, 0], lam[:, -1] * 1e-300)
            kappa = np.sqrt(lam[:, -1] / lam_min)
            total += kappa.sum()
            np.add.at(grad, s, (kappa[:, None] * (vec[:, :, -1] ** 2 - vec[:, :, 0] ** 2)).sum(axis=0))
        return total / steps, basis.T @ grad / steps

    def value(z: np.ndarray) -> float:
        return fun(np.clip(z, -_LOG_BOUND, _LOG_BOUND))[0]

    equal = _solve_equal(_magnitudes("condition", g, None))[tasks] * sub_scale
    starts = [np.zeros(k - 1), basis.T @ np.log(np.maximum(equal, 1e-6 * equal.max()))]
    rng = np.random.default_rng(0)
    starts += list(rng.normal(0.0, 1.0, size=(8, k - 1)))
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * (k - 1)
    results = [optimize.minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=bounds) for z0 in starts]
    results.sort(key=lambda r: r.fun)
    polished = [
        optimize.minimize(
            value, r.x, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 4000 * k}
        )
        for r in results[:2]
    ]
    best = min([*results, *polished], key=lambda r: r.fun).x
    sub = np.exp(basis @ np.clip(best, -_LOG_BOUND, _LOG_BOUND)) / sub_scale
    return _embed(num_tasks, tasks, sub * (k / sub.sum()))


def solve_window(
    cost: str,
    gramians: Tensor | np.ndarray | None,
    losses: Tensor | np.ndarray | None,
) -> Tensor:
    """Window weights w = argmin_w (1/τ) sum_t F^t(w) s.t. sum_i w_i = K, w >= 0 (the paper's Eq. 2).

    Args:
        cost: ``"equal_grad"`` (Equal |g|), ``"equal_loss"`` (Equal |l|) or ``"condition"`` (Low cond.);
            see the module docstring for F^t.
        gramians: (τ, K, K) per-step Gramians over the shared parameters (unused by ``equal_loss``,
            may then be None).
        losses: (τ, K) per-step losses (only ``equal_loss`` uses them; may be None otherwise).

    Returns:
        w (K,), float64 (the solvers' precision) on the device of the input tensor, sum K, w >= 0.

    Solvers and optimality:

    - ``equal_grad`` / ``equal_loss``: mean_t ||A^t w|| is a mean of norms of linear maps, hence
      convex, and the constraints are linear: a second-order cone program, solved to optimality by
      Clarabel (via cvxpy). Closed form for one step (or magnitudes proportional across the window):
      ||A^t w|| >= 0 with equality iff w_i |g_i^t| is the same for all i, so the optimum is
      w_i = K (1/|g_i|) / sum_j (1/|g_j|) with cost 0; these points (one per step) are also evaluated
      and the best point is returned, which makes that case exact rather than solver-accurate.
    - ``condition``: non-convex; multi-start local search (see :func:`_solve_condition`). With
      constant orthogonal gradients the optimum (condition number 1) is again w ∝ 1/|g_i|.

    Degenerate inputs (defined, never an error):

    - A task whose magnitude is zero at a step (|g_i^t| or |l_i^t| <= 1e-12 of the window's largest;
      e.g. no labels for it in that batch) carries no information about its scale at that step: its
      pair rows of A^t are dropped (``equal_*``), and it is left out of that step's gradient matrix
      (``condition``). A task that is zero at every step (more precisely: appears in no remaining
      term) gets weight 1 — the uniform value — and the others share the rest, K minus their
      number; if no task is informative, w = 1.
    - ``condition``: steps whose remaining gradients are linearly dependent (singular Gramian: an
      infinite condition number for every w) are left out of the mean; if no step is left, the
      ``equal_grad`` solution is returned (balanced magnitudes are within sqrt(K) of the optimal
      condition number by van der Sluis' theorem).
    - Losses enter ``equal_loss`` through their absolute value.
    """
    g, l_ = _window_inputs(cost, gramians, losses)
    w = _solve_condition(g) if cost == "condition" else _solve_equal(_magnitudes(cost, g, l_))
    ref = gramians if gramians is not None else losses
    device = ref.device if isinstance(ref, Tensor) else torch.device("cpu")
    return torch.from_numpy(_renormalise(w, w.shape[0])).to(device)
