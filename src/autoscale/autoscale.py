"""AutoScale (arXiv 2508.13979): linear scalarization weights chosen from MTO metrics in one run.

DESIGN.md §1 item 2 describes the method; this module has its three parts.

1. **Window costs and solver** (:func:`window_cost`, :func:`solve_window`). During exploration every
   step t contributes its Gramian G^t (K, K), G_ij = g_i · g_j over the shared parameters, and its
   losses l^t (K,). A window of τ steps is reduced to one weight vector

       w = argmin_w (1/τ) sum_t F^t(w)   s.t.  sum_i w_i = K,  w >= 0,

   with F^t one of the paper's cost functions (DESIGN §1.2):

   - ``"equal_grad"`` ("Equal |g|", the paper's Eq. 2 and its default): F^t(w) = ||A^t w||_2, where
     A^t has one row per task pair i < j with +|g_i^t| in column i and -|g_j^t| in column j, i.e.
     F^t(w)^2 = sum_{i<j} (w_i |g_i^t| - w_j |g_j^t|)^2 with |g_i^t| = sqrt(G^t_ii);
   - ``"equal_loss"`` ("Equal |l|"): the same with |l_i^t| in place of |g_i^t|;
   - ``"condition"`` ("Low cond."): F^t(w) = sigma_max / sigma_min of [w_1 g_1^t ... w_K g_K^t]
     = sqrt(lambda_max / lambda_min) of W G^t W, W = diag(w).

2. **Predictors** (:func:`predict`): the final weight ŵ = f(window weights) — ``"avg"`` (Avg W),
   ``"last"`` (Last W), ``"linear"`` (L.E., per-task line evaluated at γT), ``"exp"`` (E.E., per-task
   a·exp(-b·x) + c evaluated at γT); clipped at 0 and renormalised to sum K.

3. **The two-phase method** (:class:`AutoScale`, registered as ``"autoscale"``): an exploration MTO
   for steps [0, floor(αT)), then linear scalarization with ŵ (or the L.E.† schedule).

Conventions fixed here (the paper text leaves them open):

- *Steps* are 0-based training-step indices; window k covers steps [kτ, (k+1)τ) and is represented
  by its **midpoint** kτ + (τ-1)/2, the mean of its step indices. The window weight is an average
  over the window, and for a linear trend the average equals the value at the mean step, so the
  midpoint makes line extrapolation to γT unbiased.
- The exploration method's own weight scale is kept in phase 1 (IMTL-G sums to 1); the predicted LS
  weights sum to K (DESIGN §1.2). The update sum_i w_i g_i therefore grows by about K at the switch
  after an IMTL-G exploration (a sum-1 convex combination becomes a sum-K one): with SGD/momentum the
  effective learning rate of phase 2 is K times that of phase 1, exactly the learning rate that
  unitary LS (w = 1, sum K) would use; with Adam the scale of the weights matters little. As in the
  paper, one learning rate is used for the whole run.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import optimize
from torch import Tensor

from autoscale.methods.base import Weighting
from autoscale.methods.registry import build_method, register

COSTS = ("equal_grad", "equal_loss", "condition")
PREDICTORS = ("avg", "last", "linear", "exp")
# What AutoScale accepts as `predictor`: the predictors plus L.E.† (the line followed in phase 2).
SCHEDULES = (*PREDICTORS, "linear_follow")

# A task magnitude (|g_i| or |l_i|) at most this fraction of the window's largest one counts as zero.
_ZERO_RTOL = 1e-12
# A step whose gradient correlation matrix has lambda_min below this is treated as singular ("condition").
_SINGULAR_TOL = 1e-10
# Log-weight range of the condition-number search, around the equal-magnitude point (ratios up to e^30).
_LOG_BOUND = 15.0


def _check_choice(what: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(choices)}")


# --------------------------------------------------------------------------------------------------
# Window costs
# --------------------------------------------------------------------------------------------------


def _as_numpy(x: Tensor | np.ndarray, name: str, ndim: int) -> np.ndarray:
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
    _check_choice("cost", cost, COSTS)
    g = None if gramians is None else _as_numpy(gramians, "gramians", 3)
    l_ = None if losses is None else _as_numpy(losses, "losses", 2)
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
    w = _as_numpy(weights, "weights", np.ndim(weights))
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
    """Window weights w = argmin_w (1/τ) sum_t F^t(w) s.t. sum_i w_i = K, w >= 0 (DESIGN §1.2; Eq. 2).

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


# --------------------------------------------------------------------------------------------------
# Predictors
# --------------------------------------------------------------------------------------------------


def finalise_weights(w: Tensor | np.ndarray) -> Tensor:
    """Clip predicted weights at 0 and renormalise to sum K (DESIGN §1.2); all zero -> uniform ones."""
    arr = np.clip(np.asarray(w, dtype=np.float64), 0.0, None)
    total = arr.sum()
    if not np.isfinite(total) or total <= 0:
        return torch.ones(arr.shape[0], dtype=torch.float64)
    return torch.from_numpy(arr * (arr.shape[0] / total))


def fit_lines(steps: np.ndarray, window_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-task least-squares lines w_i(x) = a_i + b_i x; returns (a, b), each (K,). Needs 2 distinct steps."""
    design = np.stack([np.ones_like(steps), steps], axis=1)
    coef = np.linalg.lstsq(design, window_weights, rcond=None)[0]
    return coef[0], coef[1]


def _fit_exp(u: np.ndarray, y: np.ndarray) -> tuple[float, float, float] | None:
    """a·exp(-b·u) + c fitted to (u, y) with u in [0, 1]; None if the fit fails.

    Initialisation by variable projection: for fixed b the model is linear in (a, c), so (a, c) are
    solved exactly on a log-spaced grid of b in [1e-3, 50] and the best triple seeds
    ``scipy.optimize.curve_fit`` (trust-region reflective, bounds 0 <= b <= 50 on the unit axis:
    decaying or saturating curves, as the -b sign of the paper's form suggests; 50 is already a step).
    """

    def model(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
        return a * np.exp(-b * x) + c

    best = None
    for b in np.geomspace(1e-3, 50.0, 60):
        design = np.stack([np.exp(-b * u), np.ones_like(u)], axis=1)
        (a, c), *_ = np.linalg.lstsq(design, y, rcond=None)
        sse = float(((model(u, a, b, c) - y) ** 2).sum())
        if best is None or sse < best[0]:
            best = (sse, a, b, c)
    _, a0, b0, c0 = best
    try:
        with warnings.catch_warnings():
            # With exactly 3 windows the fit interpolates and the covariance is undefined: irrelevant here.
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            (a, b, c), _ = optimize.curve_fit(
                model,
                u,
                y,
                p0=[a0, b0, c0],
                bounds=([-np.inf, 0.0, -np.inf], [np.inf, 50.0, np.inf]),
                method="trf",
                xtol=1e-14,
                ftol=1e-14,
                gtol=1e-14,
                max_nfev=10_000,
            )
    except (RuntimeError, ValueError):
        return None
    fitted = (a, b, c)
    if not np.isfinite(fitted).all():
        return None
    # Keep the grid point if the polish made things worse (it should not, but the grid is a valid fit).
    if ((model(u, a, b, c) - y) ** 2).sum() > best[0]:
        fitted = (a0, b0, c0)
    return fitted


def _raw_predict(name: str, x: np.ndarray, ww: np.ndarray, at_step: float | None) -> np.ndarray:
    """Unclipped prediction (K,), with the fallbacks of :func:`predict`."""
    n = ww.shape[0]
    if name == "avg":
        return ww.mean(axis=0)
    if name == "last":
        return ww[-1]
    if at_step is None:
        raise ValueError(f"predictor {name!r} needs at_step (the step gamma*T to evaluate at)")
    if n < 2 or np.ptp(x) == 0:
        return ww.mean(axis=0)
    a, b = fit_lines(x, ww)
    line = a + b * at_step
    if name == "linear" or n < 3:
        return line
    # exp: fit on the unit axis u = (x - x_0) / (x_last - x_0), which conditions the problem; the
    # family a·exp(-b·x) + c is closed under affine changes of x, so the prediction is unchanged.
    x0, span = x.min(), np.ptp(x)
    u, u_at = (x - x0) / span, (at_step - x0) / span
    out = line.copy()
    for i in range(ww.shape[1]):
        fit = _fit_exp(u, ww[:, i])
        if fit is not None:
            a_i, b_i, c_i = fit
            out[i] = a_i * np.exp(-b_i * u_at) + c_i
    return out


def predict(
    name: str,
    steps: Tensor | np.ndarray | Sequence[float],
    window_weights: Tensor | np.ndarray,
    at_step: float | None = None,
) -> Tensor:
    """Predicted LS weights ŵ (K,) from window weights (DESIGN §1.2).

    Args:
        name: ``"avg"`` (Avg W: mean over windows), ``"last"`` (Last W), ``"linear"`` (L.E.: per-task
            least-squares line w_i(x) = a + b·x evaluated at ``at_step``), ``"exp"`` (E.E.: per-task
            a·exp(-b·x) + c, fitted with ``scipy.optimize.curve_fit``, evaluated at ``at_step``).
        steps: (N,) representative step of each window (AutoScale uses the window midpoints).
        window_weights: (N, K) window weights, N >= 1.
        at_step: where to evaluate the fit (γT in AutoScale); required by ``linear`` and ``exp``.

    Returns:
        ŵ (K,) float64 CPU tensor: the prediction clipped at 0 and renormalised to sum K; if every
        entry clips to zero, uniform ones.

    Fallbacks (few windows make a fit undetermined): ``linear`` needs at least 2 windows at distinct
    steps, else the mean (= the only window). ``exp`` needs at least 3 windows (its 3 parameters),
    else it uses ``linear`` (and so on); for a task whose exponential fit fails (solver error or
    non-finite parameters) that task's ``linear`` value is used.
    """
    _check_choice("predictor", name, PREDICTORS)
    ww = _as_numpy(window_weights, "window_weights", 2)
    x = _as_numpy(steps, "steps", 1)
    if ww.shape[0] == 0 or x.shape[0] != ww.shape[0]:
        raise ValueError(f"need N >= 1 windows with one step each; got steps {x.shape}, weights {ww.shape}")
    return finalise_weights(_raw_predict(name, x, ww, None if at_step is None else float(at_step)))


# --------------------------------------------------------------------------------------------------
# The two-phase method
# --------------------------------------------------------------------------------------------------


@register("autoscale")
class AutoScale(Weighting):
    """AutoScale: MTO exploration, then linear scalarization with predicted weights (DESIGN §1.2).

    Phase 1, steps [0, floor(αT)) ("explore"): the exploration method (``explore``, default IMTL-G,
    built with ``build_method(explore, num_tasks, **explore_options)``) gives the weights; each
    step's Gramian and losses are recorded, and every τ steps the closed window is reduced to
    window weights by :func:`solve_window` (``cost``) and its raw data dropped, so memory is
    O(τ K^2). Phase 2, steps [floor(αT), T) ("scalarize"): fixed weights ŵ = :func:`predict`
    (``predictor``) at γT, or with ``predictor="linear_follow"`` (L.E.†) the fitted line followed
    step by step, w(t) = line(min(t, γT)) clipped at 0 and renormalised to sum K, held from γT on.
    Phase 2 needs no Gramian: it costs exactly linear scalarization.

    One call of :meth:`weights` is one training step; the method counts steps itself.

    Decisions (the paper leaves them open):

    - switch_step = floor(αT) (computed as floor(round(αT, 9)), so that e.g. α = 0.29, T = 100 gives
      29 despite binary rounding). The switch happens right after the weights of step
      switch_step - 1 are returned, so that ``needs_gramian`` is already False when the training
      loop asks about step switch_step; it only happens if switch_step < T. Steps called past T keep
      the phase-2 weights.
    - A partial last window (switch_step not a multiple of τ) is solved if it has at least
      ceil(τ/2) steps and dropped otherwise, except when there is no complete window (αT < τ):
      then it is solved if it has any step.
    - α = 0: no exploration and no windows: phase 2 from step 0 with uniform weights (unitary LS).
      α = 1: exploration all along, never switches (``final_weights`` stays None).
    - Window steps are window midpoints, the mean of the window's step indices (module docstring).
    - Window weights always sum to K; exploration weights keep the exploration method's scale
      (module docstring: effect on the learning rate).

    Delegation to the exploration method: in phase 1 ``needs_gramian`` is True whatever the
    exploration method needs (the costs need G), and G must be over the shared parameters
    (``gramian_source`` "shared"; a method that needs representation Gramians, e.g. MGDA-UB, is
    rejected). ``needs_post_step_losses``, :meth:`post_step` and :meth:`objective` follow the method
    that produced the most recent weights (so the last exploration step is still served by the
    exploration method after the switch); :meth:`epoch_end` is passed on during phase 1.
    :meth:`parameters` always returns the exploration method's parameters, since optimisers are built
    once; after the switch they get no gradient. Limitation for methods with learnable parameters
    (UW): their regulariser is in the phase-1 objective only, and the costs see the Gramian of the
    raw losses, not of the UW-weighted ones — AutoScale's weights are a function of the gradients,
    not of the exploration weights, so this is the intended input.
    """

    def __init__(
        self,
        num_tasks: int,
        total_steps: int,
        explore: str = "imtlg",
        alpha: float = 0.2,
        window: int = 50,
        cost: str = "equal_grad",
        predictor: str = "linear",
        gamma: float = 0.5,
        explore_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(num_tasks)
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        if not isinstance(alpha, int | float) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        if not isinstance(gamma, int | float) or not math.isfinite(gamma) or gamma < 0:
            raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
        _check_choice("cost", cost, COSTS)
        _check_choice("predictor", predictor, SCHEDULES)
        if explore == "autoscale":
            raise ValueError("explore cannot be 'autoscale' itself")
        self.explore_method = build_method(explore, num_tasks, **(explore_options or {}))
        if self.explore_method.gramian_source != "shared":
            raise ValueError(
                f"exploration method {explore!r} uses {self.explore_method.gramian_source!r} Gramians; AutoScale's "
                "costs need Gramians over the shared parameters"
            )
        self.config = {
            "num_tasks": num_tasks,
            "total_steps": total_steps,
            "explore": explore,
            "alpha": float(alpha),
            "window": window,
            "cost": cost,
            "predictor": predictor,
            "gamma": float(gamma),
            "explore_options": dict(explore_options or {}),
        }
        self.total_steps = total_steps
        self.window = window
        self.cost = cost
        self.predictor = predictor
        self.switch_step = math.floor(round(alpha * total_steps, 9))
        self.at_step = gamma * total_steps
        self._reset()
        if self.switch_step == 0:
            self._switch()

    # ---- state ----------------------------------------------------------------------------------

    def _reset(self) -> None:
        self.step = 0
        self._buffer_gramians: list[Tensor] = []
        self._buffer_losses: list[Tensor] = []
        self._window_weights: list[np.ndarray] = []
        self._window_steps: list[float] = []
        self._final: np.ndarray | None = None
        self._line: tuple[np.ndarray, np.ndarray] | None = None  # L.E.† coefficients
        self._switched = False
        self._last_explored = False

    @property
    def phase(self) -> str:
        """``"explore"`` until the switch, then ``"scalarize"``."""
        return "scalarize" if self._switched else "explore"

    @property
    def needs_gramian(self) -> bool:  # type: ignore[override]
        """True for the steps of phase 1 (the costs need G), False in phase 2."""
        return not self._switched

    @property
    def needs_post_step_losses(self) -> bool:  # type: ignore[override]
        return self.explore_method.needs_post_step_losses and (self._last_explored or not self._switched)

    @property
    def window_weights(self) -> Tensor:
        """(N, K) float64 weights of the windows solved so far, each summing to K."""
        if not self._window_weights:
            return torch.zeros(0, self.num_tasks, dtype=torch.float64)
        return torch.from_numpy(np.stack(self._window_weights))

    @property
    def window_steps(self) -> Tensor:
        """(N,) float64 representative step (midpoint) of each solved window."""
        return torch.tensor(self._window_steps, dtype=torch.float64)

    @property
    def final_weights(self) -> Tensor | None:
        """ŵ (K,) float64 once predicted (L.E.†: the weights held from γT on), else None."""
        return None if self._final is None else torch.from_numpy(self._final.copy())

    # ---- phase 1 --------------------------------------------------------------------------------

    def _close_window(self) -> None:
        """Solve the buffered window and drop its raw data."""
        n = len(self._buffer_losses)
        start = self.step - n
        gramians = torch.stack(self._buffer_gramians).to(device="cpu", dtype=torch.float64)
        losses = torch.stack(self._buffer_losses).to(device="cpu", dtype=torch.float64)
        self._window_weights.append(solve_window(self.cost, gramians, losses).numpy())
        self._window_steps.append(start + (n - 1) / 2)
        self._buffer_gramians.clear()
        self._buffer_losses.clear()

    def _switch(self) -> None:
        """End of phase 1: close a partial window (rule in the class docstring) and predict ŵ."""
        n = len(self._buffer_losses)
        if n and (n >= math.ceil(self.window / 2) or not self._window_weights):
            self._close_window()
        self._buffer_gramians.clear()
        self._buffer_losses.clear()
        self._switched = True
        if not self._window_weights:
            self._final = np.ones(self.num_tasks)
            return
        steps, ww = np.asarray(self._window_steps), np.stack(self._window_weights)
        if self.predictor == "linear_follow":
            if len(steps) >= 2 and np.ptp(steps) > 0:
                self._line = fit_lines(steps, ww)
            self._final = predict("linear", steps, ww, self.at_step).numpy()
        else:
            self._final = predict(self.predictor, steps, ww, self.at_step).numpy()

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        """Weights (K,) for this step, in the dtype and on the device of ``losses``."""
        if self._switched:
            # No input check here: like fixed-weight LS, phase 2 must not synchronise with the device.
            t = self.step
            self.step += 1
            self._last_explored = False
            if self._line is not None:
                a, b = self._line
                w = finalise_weights(a + b * min(float(t), self.at_step))
            else:
                w = torch.from_numpy(self._final)
            return w.to(device=losses.device, dtype=losses.dtype)
        self.check_inputs(losses, gramian)
        w = self.explore_method.weights(losses, gramian)
        self._buffer_gramians.append(gramian.detach().clone())
        self._buffer_losses.append(losses.detach().clone())
        self.step += 1
        self._last_explored = True
        if len(self._buffer_losses) == self.window:
            self._close_window()
        if self.step == self.switch_step and self.switch_step < self.total_steps:
            self._switch()
        return w

    # ---- delegation ------------------------------------------------------------------------------

    def objective(self, losses: Tensor, weights: Tensor) -> Tensor:
        if self._last_explored:
            return self.explore_method.objective(losses, weights)
        return (weights * losses).sum()

    def post_step(self, losses_after: Tensor) -> None:
        if self._last_explored and self.explore_method.needs_post_step_losses:
            self.explore_method.post_step(losses_after)

    def epoch_end(self, mean_losses: Tensor) -> None:
        if not self._switched:
            self.explore_method.epoch_end(mean_losses)

    def parameters(self) -> list[Tensor]:
        return self.explore_method.parameters()

    # ---- records and checkpoints --------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        """JSON-serialisable: config, window weights and steps, final weights, switch step, phase."""
        return {
            "config": self.config,
            "window_weights": [w.tolist() for w in self._window_weights],
            "window_steps": list(self._window_steps),
            "final_weights": None if self._final is None else self._final.tolist(),
            "switch_step": self.switch_step,
            "phase": self.phase,
            "step": self.step,
            "explore": self.explore_method.record(),
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything to resume exactly, including a partially filled window and the explorer's state."""
        return {
            "config": self.config,
            "step": self.step,
            "buffer_gramians": [g.cpu().clone() for g in self._buffer_gramians],
            "buffer_losses": [x.cpu().clone() for x in self._buffer_losses],
            "window_weights": [w.copy() for w in self._window_weights],
            "window_steps": list(self._window_steps),
            "final": None if self._final is None else self._final.copy(),
            "line": None if self._line is None else tuple(c.copy() for c in self._line),
            "switched": self._switched,
            "last_explored": self._last_explored,
            "explore": self.explore_method.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config"] != self.config:
            raise ValueError(f"checkpoint is for AutoScale config {state['config']}, this one is {self.config}")
        self.step = int(state["step"])
        self._buffer_gramians = [g.clone() for g in state["buffer_gramians"]]
        self._buffer_losses = [x.clone() for x in state["buffer_losses"]]
        self._window_weights = [np.array(w, dtype=np.float64) for w in state["window_weights"]]
        self._window_steps = [float(s) for s in state["window_steps"]]
        self._final = None if state["final"] is None else np.array(state["final"], dtype=np.float64)
        self._line = None if state["line"] is None else tuple(np.array(c, dtype=np.float64) for c in state["line"])
        self._switched = bool(state["switched"])
        self._last_explored = bool(state["last_explored"])
        self.explore_method.load_state_dict(state["explore"])
