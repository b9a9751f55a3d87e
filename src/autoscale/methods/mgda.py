"""MGDA and MGDA-UB (Sener & Koltun, "Multi-task learning as multi-objective optimization", NeurIPS 2018)."""

from __future__ import annotations

import torch
from torch import Tensor

from autoscale.methods._common import GramianWeighting, check_choice, min_norm_point
from autoscale.methods.base import MethodInfo
from autoscale.methods.registry import register

NORMALIZATIONS = ("none", "l2", "loss", "loss+")


@register("mgda")
class MGDA(GramianWeighting):
    """MGDA: the minimum-norm point of the convex hull of the (normalised) task gradients.

    Following the official code (``isl-org/MultiObjectiveOptimization``, ``train_multi_task.py`` and
    ``min_norm_solvers.py``): each gradient is first divided by a normaliser n_i, with
    ``normalization`` one of

    - ``"none"``: n_i = 1 (the paper's Algorithm 2),
    - ``"l2"``: n_i = |g_i|,
    - ``"loss"``: n_i = L_i,
    - ``"loss+"``: n_i = L_i |g_i| (the official default, ``sample.json``),

    so the solver sees G'_ij = G_ij / (n_i n_j); then w = argmin_{w in simplex} w^T G' w and, as in the
    official code, w multiplies the *unnormalised* losses. Weights are >= 0 and sum to 1 (official
    scale; the Nash-MTL reimplementation multiplies by K). The min-norm problem is solved exactly from
    the Gramian (Wolfe's algorithm, see :func:`min_norm_point`); the KKT conditions hold to rounding.
    The official solver is not exact: its closed-form two-point step clamps the weight to
    [0.001, 0.999], so with one gradient dominating (g_1 · g_2 >= |g_2|^2) it returns (0.001, 0.999)
    where the exact answer is (0, 1), and for K > 2 its projected-gradient iterations stop at a change
    of 1e-5. torchjd's ``MGDAWeighting`` runs
    Frank-Wolfe with a loose stopping rule (gamma < 1e-3), hence not used here.
    A zero normaliser (zero gradient, or zero loss) is replaced by 1 instead of dividing by zero: the
    official code would produce NaN; a zero gradient stays zero, so the min-norm point is 0 as it should.
    """

    info = MethodInfo(label="MGDA", family="gramian", in_paper=True, table_row=30)

    def __init__(self, num_tasks: int, normalization: str = "loss+") -> None:
        super().__init__(num_tasks)
        check_choice("normalization", normalization, NORMALIZATIONS)
        self.normalization = normalization

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        norms = torch.sqrt(torch.diagonal(gramian).clamp(min=0.0))
        normalizer = {
            "none": torch.ones_like(losses),
            "l2": norms,
            "loss": losses,
            "loss+": losses * norms,
        }[self.normalization]
        if (normalizer < 0).any():
            raise ValueError(f"MGDA normalization {self.normalization!r} needs non-negative losses, got {losses}")
        normalizer = torch.where(normalizer > 0, normalizer, torch.ones_like(normalizer))
        normalized = gramian / torch.outer(normalizer, normalizer)
        return torch.from_numpy(min_norm_point(normalized.numpy()))


@register("mgda_ub")
class MGDAUB(MGDA):
    """MGDA-UB: MGDA on the Gramian of the gradients w.r.t. the shared representation z.

    The paper's upper-bound approximation (Sec. 3.3; official ``use_approximation``): the trainer
    computes G_ij = sum over the batch of (dL_i/dz) · (dL_j/dz), one backward through the task heads
    per task and none through the encoder. Same normalisation options and weight scale as :class:`MGDA`.
    """

    info = MethodInfo(label="MGDA-UB", family="gramian", table_row=130)

    gramian_source = "representation"
