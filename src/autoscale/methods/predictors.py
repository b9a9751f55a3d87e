"""AutoScale's predictors: final LS weights from the window weights of the exploration phase."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from scipy import optimize
from torch import Tensor

from autoscale.methods.window import as_float64_array, check_option

PREDICTORS = ("avg", "last", "linear", "exp")
# What AutoScale accepts as `predictor`: the predictors plus L.E.† (the line followed in phase 2).
SCHEDULES = (*PREDICTORS, "linear_follow")


# --------------------------------------------------------------------------------------------------
# Predictors
# --------------------------------------------------------------------------------------------------


def finalise_weights(w: Tensor | np.ndarray) -> Tensor:
    """Clip predicted weights at 0 and renormalise to sum K; all zero -> uniform ones."""
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
    """Predicted LS weights ŵ (K,) from window weights (the paper's Table 5 predictors).

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
    check_option("predictor", name, PREDICTORS)
    ww = as_float64_array(window_weights, "window_weights", 2)
    x = as_float64_array(steps, "steps", 1)
    if ww.shape[0] == 0 or x.shape[0] != ww.shape[0]:
        raise ValueError(f"need N >= 1 windows with one step each; got steps {x.shape}, weights {ww.shape}")
    return finalise_weights(_raw_predict(name, x, ww, None if at_step is None else float(at_step)))
