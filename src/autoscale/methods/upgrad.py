"""UPGrad (Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", arXiv 2406.16232, 2024).

Also home of :class:`ActiveSetProjector`, the dual-cone projection that UPGrad and DualProj
(:mod:`autoscale.methods.dualproj`) hand to torchjd's weightings.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import nnls
from torch import Tensor
from torchjd.aggregation import UPGradWeighting
from torchjd.linalg import DualConeProjector

from autoscale.methods._common import GramianWeighting, check_positive
from autoscale.methods.base import MethodInfo, PropertySpec
from autoscale.methods.registry import register

# torchjd's QuadprogProjector defaults (the JD paper's experiments use them).
NORM_EPS = 1e-4
REG_EPS = 1e-4


class ActiveSetProjector(DualConeProjector):
    """Weights of the projection of J^T u onto the dual cone of the rows of J, from G = J J^T.

    The projection pi_J(J^T u) (JD paper, Eq. 3) is J^T v with v the solution of the quadratic program

        min_v v^T G v   subject to   v >= u            (JD paper, Proposition 1),

    which is what torchjd's :class:`~torchjd.linalg.DualConeProjector` computes. torchjd's default,
    ``QuadprogProjector``, needs the optional packages ``qpsolvers`` and ``quadprog``
    (``torchjd[quadprog_projector]``), which this project does not depend on; this projector solves
    the same problem with the same preprocessing and a solver from scipy:

    - preprocessing as ``QuadprogProjector``: G is divided by its trace (the squared Frobenius norm
      of J), or replaced by 0 if the trace is below ``norm_eps``, then ``reg_eps`` I is added so that
      the problem is strictly convex (the minimiser is unique);
    - solver: with v = u + lam and G = A^T A (A = diag(sqrt(eigenvalues)) Q^T from the symmetric
      eigendecomposition), the problem is the non-negative least squares min_{lam >= 0} |A lam + A u|^2,
      solved exactly by the Lawson-Hanson active-set algorithm (``scipy.optimize.nnls``); finite
      termination, so the solution is exact up to rounding instead of up to an interior-point tolerance.
    """

    def __init__(self, *, norm_eps: float = NORM_EPS, reg_eps: float = REG_EPS) -> None:
        check_positive("norm_eps", norm_eps, allow_zero=True)
        check_positive("reg_eps", reg_eps, allow_zero=True)
        self.norm_eps, self.reg_eps = float(norm_eps), float(reg_eps)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(norm_eps={self.norm_eps}, reg_eps={self.reg_eps})"

    def __call__(self, U: Tensor, G: Tensor) -> Tensor:  # argument names as in torchjd
        g = G.detach().to(device="cpu", dtype=torch.float64).numpy()
        k = g.shape[0]
        trace = float(np.trace(g))
        g = np.zeros_like(g) if trace < self.norm_eps else g / trace
        g = g + self.reg_eps * np.eye(k)
        eigenvalues, eigenvectors = np.linalg.eigh((g + g.T) / 2.0)
        a = np.sqrt(np.clip(eigenvalues, 0.0, None))[:, None] * eigenvectors.T  # A^T A = G
        u = U.detach().to(device="cpu", dtype=torch.float64).numpy()
        flat = u.reshape(-1, k)
        v = np.stack([row + nnls(a, -(a @ row), maxiter=50 * k)[0] for row in flat]).reshape(u.shape)
        return torch.as_tensor(v, dtype=G.dtype, device=G.device)


@register("upgrad")
class UPGrad(GramianWeighting):
    """UPGrad: the mean of the task gradients, each projected onto the dual cone of all of them.

    JD paper (UPGrad with the uniform preference vector, torchjd's default): the update is

        d = (1/K) sum_i pi_J(g_i),   pi_J(x) = argmin_{y : J y >= 0} |y - x|,

    the projection onto the dual cone {y : g_j · y >= 0 for all j}, so d conflicts with no task.
    By Proposition 1, pi_J(J^T u) = J^T v(u) with v(u) = argmin_{v >= u} v^T G v; the weights are
    w = sum_i v(e_i / K). This is torchjd's ``UPGradWeighting`` (``pref_vector=None``: mean
    preference), used as is with :class:`ActiveSetProjector` in place of its default quadprog
    projector (same problem and preprocessing; quadprog is not a dependency of this project).

    Weight scale (torchjd's and the paper's): the projections are *averaged* (torchjd sums the rows
    v(e_i / K), i.e. the projections of g_i / K). Without conflicts (G_ij >= 0, nothing to project)
    w_i = 1/K exactly, the mean gradient, weights summing to 1; a projection only adds non-negative
    weight (v >= u), so in general w_i >= 1/K and sum_i w_i >= 1.

    Defaults of torchjd's projector and their effect: G is divided by its trace and ``reg_eps`` = 1e-4
    times the identity is added, so the projection is that of a slightly regularised problem (where
    it projects, the weights differ from the exact projection's by 2e-4 to 1e-2 relatively on random
    conflicting gradients, K = 2 to 5, more for ill-conditioned G; ``reg_eps=0`` is exact); and when
    trace(G) = sum_i |g_i|^2 < ``norm_eps`` = 1e-4 the Gramian is treated as zero and w = 1/K (the
    mean gradient, no projection). That threshold is absolute: with small gradients (sum of squared
    norms below 1e-4) UPGrad is the mean. Both are options; ``norm_eps=0`` removes the threshold.
    """

    info = MethodInfo(label="UPGrad", family="gramian", table_row=150)
    # Active-set solves of the permuted problem agree to rounding, amplified by the conditioning of G.
    properties = PropertySpec(tol=1e-7)

    def __init__(self, num_tasks: int, norm_eps: float = NORM_EPS, reg_eps: float = REG_EPS) -> None:
        super().__init__(num_tasks)
        self.solver = UPGradWeighting(projector=ActiveSetProjector(norm_eps=norm_eps, reg_eps=reg_eps))

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        return self.solver(gramian)
