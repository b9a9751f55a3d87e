"""Aligned-MTL (Senushkin et al., "Independent component alignment for multi-task learning", CVPR 2023)."""

from __future__ import annotations

import torch
from torch import Tensor
from torchjd.aggregation import AlignedMTLWeighting

from autoscale.methods._common import GramianWeighting, check_choice
from autoscale.methods.registry import register

SCALE_MODES = ("min", "median", "rmse")


@register("alignedmtl")
class AlignedMTL(GramianWeighting):
    """Aligned-MTL: align the task gradients so that their matrix has condition number 1.

    With the eigendecomposition G = V diag(lambda) V^T (rank r, eigenvalues above a relative tolerance),
    the balance transformation is B = sqrt(lambda_scale) V diag(lambda)^{-1/2} V^T, and the aligned
    gradients are the columns of J^T B: (J^T B)^T (J^T B) = B G B = lambda_scale I on the gradients'
    span, i.e. condition number 1 (paper, Algorithm 1). lambda_scale is the smallest eigenvalue
    (``scale_mode="min"``, the official default), the median, or the mean (``"rmse"``).

    The official code (``SamsungLabs/MTL``, ``optim/aligned``: ``ProcrustesSolver`` and
    ``AlignedMTLBalancer``) sums the aligned gradients, so its weights are w = B 1 (no preference
    weights). torchjd's ``AlignedMTLWeighting`` computes the same B but applies it to the mean
    preference vector 1/K, i.e. returns B 1 / K; this class uses torchjd and multiplies by K to get
    the official scale.
    """

    def __init__(self, num_tasks: int, scale_mode: str = "min") -> None:
        super().__init__(num_tasks)
        check_choice("scale_mode", scale_mode, SCALE_MODES)
        self.scale_mode = scale_mode
        self.solver = AlignedMTLWeighting(scale_mode=scale_mode)

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        return self.num_tasks * self.solver(gramian)

    def balance_transformation(self, gramian: Tensor) -> Tensor:
        """B (K, K), column j obtained from torchjd with preference vector e_j (for analysis and tests)."""
        eye = torch.eye(self.num_tasks, dtype=gramian.dtype, device=gramian.device)
        columns = [AlignedMTLWeighting(pref_vector=e, scale_mode=self.scale_mode)(gramian) for e in eye]
        return torch.stack(columns, dim=1)
