"""IMTL-G (Liu et al., "Towards impartial multi-task learning", ICLR 2021), gradient part."""

from __future__ import annotations

from torch import Tensor
from torchjd.aggregation import IMTLGWeighting

from autoscale.methods._common import GramianWeighting
from autoscale.methods.base import MethodInfo
from autoscale.methods.registry import register


@register("imtlg")
class IMTLG(GramianWeighting):
    """IMTL-G: weights alpha (sum 1) whose update d = sum_i alpha_i g_i has equal projections on all u_i.

    With u_i = g_i / |g_i|, IMTL-G asks d · u_i to be the same for every i and sum_i alpha_i = 1
    (paper, Sec. 3.2 and Eq. 7). Since d · u_i = (G alpha)_i / sqrt(G_ii), this is G alpha ∝ sqrt(diag G),
    so alpha = G^+ sqrt(diag G) / (1^T G^+ sqrt(diag G)). This closed form is torchjd's
    ``IMTLGWeighting`` (used as is; it takes the pseudo-inverse so linearly dependent gradients are
    handled, and returns zeros when the normaliser vanishes). The paper's formula (differences against
    task 1, as in the Nash-MTL reimplementation) gives the same alpha when G is invertible.
    Weights sum to 1 (the paper's and official scale).
    """

    info = MethodInfo(label="IMTL-G", family="gramian", in_paper=True, table_row=50)

    def __init__(self, num_tasks: int) -> None:
        super().__init__(num_tasks)
        self.solver = IMTLGWeighting()

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        return self.solver(gramian)
