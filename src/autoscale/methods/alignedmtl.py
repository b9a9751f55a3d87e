"""Aligned-MTL (Senushkin et al., "Independent component alignment for multi-task learning", CVPR 2023)."""

from __future__ import annotations

import torch
from torch import Tensor

from autoscale.methods._common import GramianWeighting, check_choice
from autoscale.methods.base import MethodInfo
from autoscale.methods.registry import register

SCALE_MODES = ("min", "median", "rmse")


@register("alignedmtl")
class AlignedMTL(GramianWeighting):
    """Aligned-MTL: align the task gradients so that their matrix has condition number 1.

    With the eigendecomposition G = V diag(lambda) V^T restricted to the eigenvalues above
    lambda_max * K * eps (rank r), the balance transformation is
    B = sqrt(lambda_scale) V_r diag(lambda_r)^{-1/2} V_r^T, and the aligned gradients are the
    columns of J^T B: (J^T B)^T (J^T B) = B G B = lambda_scale I on the gradients' span, i.e.
    condition number 1 (paper, Algorithm 1). lambda_scale is the smallest kept eigenvalue
    (``scale_mode="min"``, the official default), the median (the lower of the two middle values
    for an even rank, as ``torch.median`` in the official code), or the mean (``"rmse"``).
    The official code (``SamsungLabs/MTL``, ``ProcrustesSolver`` and ``AlignedMTLBalancer``) sums
    the aligned gradients, so the weights are w = B 1.

    The cutoff eps is the machine epsilon of the precision the Gramian was *computed* in (float32
    for a float32 model), as in the official code, which works in float32 throughout. Gramian
    methods compute in float64, and a float64 cutoff would keep the rounding noise of a float32
    Gramian as an eigenvalue: with nearly parallel gradients that noise becomes lambda_min, and
    ``scale_mode="min"`` then shrinks the whole update to almost nothing (and can flip the sign
    of a weight). torchjd's ``AlignedMTLWeighting`` computes the same B but takes eps from the
    dtype it receives, so it cannot be told the source precision; hence the few lines here.
    """

    info = MethodInfo(label="Aligned-MTL", family="gramian", in_paper=True, table_row=70)

    def __init__(self, num_tasks: int, scale_mode: str = "min") -> None:
        super().__init__(num_tasks)
        check_choice("scale_mode", scale_mode, SCALE_MODES)
        self.scale_mode = scale_mode

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        return self.balance_transformation(gramian).sum(dim=1)

    def balance_transformation(self, gramian: Tensor, eps: float | None = None) -> Tensor:
        """B (K, K) of the class docstring; ``eps`` defaults to the precision of the last Gramian
        passed to :meth:`weights` (float64 when called directly)."""
        eps = eps if eps is not None else self.gramian_eps
        eigenvalues, basis = torch.linalg.eigh(gramian)
        cutoff = eigenvalues.max() * gramian.shape[-1] * eps
        keep = eigenvalues > cutoff
        if not keep.any():  # every gradient is zero: no update
            return torch.zeros_like(gramian)
        kept, basis = eigenvalues[keep], basis[:, keep]
        if self.scale_mode == "min":
            scale = kept.min()
        elif self.scale_mode == "median":
            scale = kept.sort().values[(len(kept) - 1) // 2]
        else:
            scale = kept.mean()
        return (basis * torch.sqrt(scale / kept)) @ basis.T
