"""Uncertainty weighting (Kendall et al., CVPR 2018).

Uses only the task losses (no Gramian); its state lives on the CPU (K numbers), and the weights are
handed back on the device and in the dtype of the losses.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from autoscale.methods.base import MethodInfo, PropertySpec, Weighting
from autoscale.methods.registry import register


@register("uw")
class UncertaintyWeighting(Weighting):
    """Uncertainty weighting (Kendall et al., CVPR 2018), in the form of LibMTL (``weighting/UW.py``).

    With learnable log-variances s_i = log sigma_i^2, the objective is

        sum_i L_i / (2 exp(s_i)) + s_i / 2,

    i.e. weights w_i = 1 / (2 exp(s_i)) plus the regulariser sum_i s_i / 2 (Kendall et al., Eq. 7-10,
    with the homoscedastic regression form used for every task, as LibMTL and the Nash-MTL/FAMO
    codebases do). s starts at ``init = -0.5`` as in LibMTL (w_i = e^{0.5}/2 ≈ 0.82); torchjd's
    ``scalarization.UW`` has the same objective with s = 0 at start. :meth:`weights` returns w *with*
    its graph to s and :meth:`objective` adds the regulariser, so one backward gives
    dJ/ds_i = -L_i exp(-s_i)/2 + 1/2. s is returned by :meth:`parameters` and is trained by the
    model's optimiser (LibMTL: the same optimiser and learning rate as the model; the Nash-MTL and
    FAMO trainers use a separate learning rate of 0.025 for it). s lives on the CPU; gradients reach it
    through the device transfer.
    """

    info = MethodInfo(label="UW", family="loss", in_paper=True, table_row=10)
    properties = PropertySpec(equivariance="trajectory", reason="log-variances trained through objective()")

    def __init__(self, num_tasks: int, init: float = -0.5) -> None:
        super().__init__(num_tasks)
        if not isinstance(init, int | float) or not math.isfinite(init):
            raise ValueError(f"init must be a finite number, got {init!r}")
        self.log_var = nn.Parameter(torch.full((num_tasks,), float(init)))

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        self.check_inputs(losses, gramian)
        return (0.5 * torch.exp(-self.log_var)).to(device=losses.device, dtype=losses.dtype)

    def objective(self, losses: Tensor, weights: Tensor) -> Tensor:
        return (weights * losses).sum() + 0.5 * self.log_var.sum().to(device=losses.device, dtype=losses.dtype)

    def parameters(self) -> list[Tensor]:
        return [self.log_var]

    def record(self) -> dict[str, Any]:
        return {"log_var": self.log_var.detach().tolist()}

    def state_dict(self) -> dict[str, Any]:
        return {"log_var": self.log_var.detach().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():  # in place, so an optimiser holding the parameter keeps working
            self.log_var.copy_(state["log_var"])
