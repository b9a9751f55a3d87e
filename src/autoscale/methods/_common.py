"""Helpers shared by the weighting methods: the Gramian-method base class and the min-norm solver.

Gradient-manipulating methods (MGDA, PCGrad, IMTL-G, Aligned-MTL, CAGrad, Nash-MTL) are all functions
of the task-gradient Gramian G = J J^T. They compute in float64 on the CPU (K is small,
and solvers such as scipy and cvxpy need numpy anyway) and hand the weights back in the dtype and on
the device of the losses.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from autoscale.methods.base import Weighting


class GramianWeighting(Weighting):
    """Base of the methods whose weights are a function of the Gramian (and possibly the losses).

    Subclasses implement :meth:`from_gramian`, which receives detached float64 CPU tensors.
    """

    needs_gramian = True
    # Machine epsilon of the dtype the last Gramian arrived in (before the float64 conversion):
    # the precision it was computed in, for methods that must tell rounding noise from signal.
    gramian_eps: float = float(torch.finfo(torch.float64).eps)

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        self.check_inputs(losses, gramian)
        if gramian is not None:
            self.gramian_eps = float(torch.finfo(gramian.dtype).eps)
        # gramian is None only on steps where a subclass switched needs_gramian off (Nash-MTL reuse).
        w = self.from_gramian(to_cpu64(losses), None if gramian is None else to_cpu64(gramian))
        return w.to(device=losses.device, dtype=losses.dtype)

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        """Weights (K,) from float64 CPU losses (K,) and Gramian (K, K)."""
        raise NotImplementedError


def to_cpu64(x: Tensor) -> Tensor:
    """Detached float64 CPU copy (the methods' working precision)."""
    return x.detach().to(device="cpu", dtype=torch.float64)


def check_choice(name: str, value: object, choices: tuple[object, ...]) -> None:
    """Raise a ValueError listing the valid choices if ``value`` is not one of them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise a ValueError unless ``value`` is a finite number > 0 (>= 0 with ``allow_zero``)."""
    ok = isinstance(value, int | float) and np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def seeded_generator(seed: int | None) -> torch.Generator:
    """A CPU generator of the method's own: seeded when ``seed`` is given, else from OS entropy."""
    if seed is not None and not isinstance(seed, int):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def min_norm_point(gramian: np.ndarray, *, rtol: float = 1e-12, max_iter: int = 1000) -> np.ndarray:
    """Exact minimum-norm point of the convex hull of the vectors whose Gramian is ``gramian``.

    Returns lam on the simplex (lam >= 0, sum lam = 1) minimising |sum_i lam_i g_i|^2 = lam^T G lam,
    using Wolfe's finite active-set algorithm (P. Wolfe, "Finding the nearest point in a polytope",
    Math. Programming 11, 1976), which only needs inner products and therefore works on G alone.
    At the returned point the KKT conditions hold to rounding: with d = sum_i lam_i g_i,
    g_i · d >= |d|^2 for every i, with equality on the support of lam.

    The official MGDA code solves the same problem approximately: projected gradient / Frank-Wolfe
    stopping at a change of 1e-5, with two-point steps clamped to [0.001, 0.999] (so it never
    returns a vertex of the simplex, where this solver can).
    """
    g = np.asarray(gramian, dtype=np.float64)
    k = g.shape[0]
    tol = rtol * max(float(np.max(np.diag(g))), np.finfo(np.float64).tiny)
    first = int(np.argmin(np.diag(g)))
    support = [first]
    lam = np.zeros(k)
    lam[first] = 1.0
    for _ in range(max_iter):
        g_lam = g @ lam
        j = int(np.argmin(g_lam))
        # Optimal when no vertex lies strictly on the origin's side of the plane through d, normal d.
        if g_lam[j] >= lam @ g_lam - tol or j in support:
            return lam
        support.append(j)
        while True:
            mu = _affine_minimizer(g, support)
            if np.all(mu > 0):
                lam = np.zeros(k)
                lam[support] = mu
                break
            # Move from lam towards the affine minimiser until the first weight hits zero; drop it.
            current = lam[support]
            blocking = mu <= 0
            theta = float(np.min(current[blocking] / (current[blocking] - mu[blocking])))
            moved = (1.0 - theta) * current + theta * mu
            keep = moved > 0
            keep[np.argmin(np.where(blocking, moved, np.inf))] = False
            support = [s for s, kept in zip(support, keep, strict=True) if kept]
            lam = np.zeros(k)
            lam[support] = moved[keep] / moved[keep].sum()
    raise RuntimeError(f"min-norm solver did not converge in {max_iter} iterations (Gramian {g.tolist()})")


def _affine_minimizer(gramian: np.ndarray, support: list[int]) -> np.ndarray:
    """Weights mu (sum 1) of the minimum-norm point of the affine hull of the ``support`` vectors."""
    n = len(support)
    block = gramian[np.ix_(support, support)]
    # The minimiser does not change when G is scaled; scaled to a unit diagonal maximum, the KKT
    # system keeps singular values near 1 and lstsq's cutoff cannot drop the sum-to-1 row (unscaled,
    # it did for G around 1e8 times larger or smaller than 1).
    scale = float(np.max(np.diag(block)))
    system = np.zeros((n + 1, n + 1))
    system[:n, :n] = block / scale if scale > 0 else block
    system[:n, n] = 1.0
    system[n, :n] = 1.0
    rhs = np.zeros(n + 1)
    rhs[n] = 1.0
    # lstsq rather than solve: duplicated or parallel gradients make the system singular.
    solution = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return solution[:n]
