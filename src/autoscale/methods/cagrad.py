"""CAGrad (Liu et al., "Conflict-averse gradient descent for multi-task learning", NeurIPS 2021)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize
from torch import Tensor

from autoscale.methods._common import GramianWeighting, check_choice, check_positive
from autoscale.methods.base import MethodInfo, PropertySpec
from autoscale.methods.registry import register

# Official safeguards added to the norms (``cagrad`` in Cranial-XIX/CAGrad).
_EPS = 1e-8
RESCALES = (0, 1, 2)


@register("cagrad")
class CAGrad(GramianWeighting):
    """CAGrad: the update maximising the worst task improvement within a ball around the mean gradient.

    With g0 = mean_i g_i and radius rho = c |g0|, CAGrad solves (paper, Eq. 4-5; official ``cagrad``)
    the dual over the simplex

        w* = argmin_{w in simplex} g_w · g0 + rho |g_w|,   g_w = sum_i w_i g_i,

    i.e. F(w) = w^T G 1/K + rho sqrt(w^T G w) from the Gramian alone, then
    d = (g0 + (rho / |g_w*|) g_w*) / s with s = 1 + c^2 (``rescale=1``, official default),
    1 (``rescale=0``) or 1 + c (``rescale=2``). The official code then multiplies d by K
    ("to match the sum loss", ``overwrite_grad``), so the weights are
    w = K (1/K + (rho / |g_w*|) w*) / s; with c = 0 they are all 1 (the summed gradient).
    Defaults c = 0.4, rescale = 1 (official NYUv2 run and the Nash-MTL/FAMO trainers).

    The dual is solved with scipy's SLSQP from w = 1/K, as in the official code, but with the
    analytic gradient, a tight tolerance (ftol 1e-12 instead of the default 1e-6, which leaves the
    update about 1e-4 short of optimal) and on G / max_i G_ii: F is homogeneous in G, so the
    minimiser is unchanged, while SLSQP's absolute tolerance becomes meaningful for any gradient scale
    (on the raw G the official solve stops at its starting point when gradients are small). The 1e-8 safeguards of the
    official code therefore act on the normalised scale. An unsuccessful SLSQP run is counted in
    :meth:`record` and warned about (its last iterate is still a feasible point of the simplex).
    torchjd's ``CAGradWeighting`` solves the same dual with cvxpy/CLARABEL on a normalised Gramian and
    returns 1/K + (rho/|g_w*|) w* without the official rescaling and factor K, hence not used here.
    """

    info = MethodInfo(label="CAGrad", family="gramian", table_row=110)
    properties = PropertySpec(tol=1e-6)  # SLSQP, ftol 1e-12

    def __init__(self, num_tasks: int, c: float = 0.4, rescale: int = 1) -> None:
        super().__init__(num_tasks)
        check_positive("c", c, allow_zero=True)
        check_choice("rescale", rescale, RESCALES)
        self.c, self.rescale = float(c), rescale
        self.solver_failures = 0

    def dual_objective(self, gramian: np.ndarray) -> tuple[Any, Any, float]:
        """F(w) and its gradient for a (normalised) Gramian, plus the radius rho = c |g0| used."""
        k = self.num_tasks
        mean_pull = gramian @ np.full(k, 1.0 / k)  # (G 1/K)_i = g_i · g0
        radius = self.c * np.sqrt(max(gramian.mean(), 0.0) + _EPS) + _EPS

        def value(w: np.ndarray) -> float:
            return float(w @ mean_pull + radius * np.sqrt(max(w @ gramian @ w, 0.0) + _EPS))

        def gradient(w: np.ndarray) -> np.ndarray:
            return mean_pull + radius * (gramian @ w) / np.sqrt(max(w @ gramian @ w, 0.0) + _EPS)

        return value, gradient, radius

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        k = self.num_tasks
        g = gramian.numpy()
        scale = float(np.max(np.diag(g)))
        g = g / scale if scale > 0 else g
        value, gradient, radius = self.dual_objective(g)
        start = np.full(k, 1.0 / k)
        result = minimize(
            value,
            start,
            jac=gradient,
            bounds=[(0.0, 1.0)] * k,
            constraints={"type": "eq", "fun": lambda w: 1.0 - w.sum()},
            options={"ftol": 1e-12, "maxiter": 1000},
        )
        if not result.success:
            self.solver_failures += 1
            warnings.warn(f"CAGrad: SLSQP did not converge ({result.message}); using its last iterate", stacklevel=3)
        w_dual = np.clip(result.x, 0.0, None)
        lam = radius / (np.sqrt(max(w_dual @ g @ w_dual, 0.0)) + _EPS)
        divisor = {0: 1.0, 1: 1.0 + self.c**2, 2: 1.0 + self.c}[self.rescale]
        return torch.from_numpy(k * (start + lam * w_dual) / divisor)

    def record(self) -> dict[str, Any]:
        return {"solver_failures": self.solver_failures}

    def state_dict(self) -> dict[str, Any]:
        return {"solver_failures": self.solver_failures}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.solver_failures = int(state["solver_failures"])
