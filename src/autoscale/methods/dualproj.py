"""DualProj (Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", arXiv 2406.16232, 2024)."""

from __future__ import annotations

from torch import Tensor
from torchjd.aggregation import DualProjWeighting

from autoscale.methods._common import GramianWeighting
from autoscale.methods.base import MethodInfo, PropertySpec
from autoscale.methods.registry import register
from autoscale.methods.upgrad import NORM_EPS, REG_EPS, ActiveSetProjector


@register("dualproj")
class DualProj(GramianWeighting):
    """DualProj: the mean gradient projected onto the dual cone of the task gradients.

    The JD paper compares UPGrad with this aggregator (from GEM, Lopez-Paz & Ranzato, NeurIPS 2017,
    Eq. 11, applied to the mean): with g0 = (1/K) sum_i g_i the update is

        d = pi_J(g0) = argmin_{y : J y >= 0} |y - g0|,

    the closest vector to g0 that conflicts with no task. By the JD paper's Proposition 1,
    d = J^T v with v = argmin_{v >= 1/K} v^T G v: the weights. This is torchjd's ``DualProjWeighting``
    (``pref_vector=None``: the mean), used as is with :class:`~autoscale.methods.upgrad.ActiveSetProjector`
    (torchjd's default projector needs quadprog, not a dependency here; same problem, same
    preprocessing).

    Weight scale (torchjd's): without conflicts w_i = 1/K (the mean gradient, sum 1); the projection
    only adds non-negative weight, so w_i >= 1/K. The projector's defaults act as for UPGrad (see
    :class:`~autoscale.methods.upgrad.UPGrad`): ``reg_eps`` = 1e-4 regularisation of the trace-normalised
    Gramian, and w = 1/K when trace(G) < ``norm_eps`` = 1e-4.
    """

    info = MethodInfo(label="DualProj", family="gramian", table_row=160)
    properties = PropertySpec(tol=1e-7)  # as UPGrad: active-set solves agree to rounding

    def __init__(self, num_tasks: int, norm_eps: float = NORM_EPS, reg_eps: float = REG_EPS) -> None:
        super().__init__(num_tasks)
        self.solver = DualProjWeighting(projector=ActiveSetProjector(norm_eps=norm_eps, reg_eps=reg_eps))

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        return self.solver(gramian)
