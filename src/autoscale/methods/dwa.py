"""Dynamic weight average (Liu et al., "End-to-end multi-task learning with attention", CVPR 2019).

Uses only the task losses (no Gramian); its state lives on the CPU (K numbers), and the weights are
handed back on the device and in the dtype of the losses.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from autoscale.methods._common import check_positive
from autoscale.methods.base import MethodInfo, PropertySpec, Weighting
from autoscale.methods.registry import register


@register("dwa")
class DynamicWeightAverage(Weighting):
    """Dynamic weight average (Liu et al., "End-to-end multi-task learning with attention", CVPR 2019).

    At epoch e >= 2, w_i = K softmax(r / T)_i with r_i = L_i(e-1) / L_i(e-2), the ratio of the epoch-mean
    training losses of the two previous epochs (Eq. 1 of the paper; official mtan code and LibMTL);
    w = 1 during the first two epochs. Weights sum to K. Temperature T = 2 as in the paper.
    The epoch means come from :meth:`epoch_end` (the trainer calls it once per epoch).
    """

    info = MethodInfo(label="DWA", family="loss", table_row=140)
    properties = PropertySpec(
        equivariance="trajectory", reason="weights fixed per epoch from the means given to epoch_end"
    )

    def __init__(self, num_tasks: int, temperature: float = 2.0) -> None:
        super().__init__(num_tasks)
        check_positive("temperature", temperature)
        self.temperature = float(temperature)
        self.epoch_means: list[Tensor] = []  # the last two epochs' mean losses, oldest first
        self._epoch_weights: Tensor | None = None  # this epoch's weights on the losses' device

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        self.check_inputs(losses, gramian)
        # Fixed for the epoch: computed once and kept on the losses' device (no copy per step).
        cached = self._epoch_weights
        if cached is None or (cached.device, cached.dtype) != (losses.device, losses.dtype):
            if len(self.epoch_means) < 2:
                w = torch.ones(self.num_tasks, dtype=torch.float64)
            else:
                older, newer = self.epoch_means
                w = self.num_tasks * torch.softmax((newer / older) / self.temperature, dim=0)
            self._epoch_weights = cached = w.to(device=losses.device, dtype=losses.dtype)
        return cached

    def epoch_end(self, mean_losses: Tensor) -> None:
        self.check_inputs(mean_losses, None)
        self.epoch_means = [*self.epoch_means, mean_losses.detach().to("cpu", torch.float64)][-2:]
        self._epoch_weights = None

    def state_dict(self) -> dict[str, Any]:
        return {"epoch_means": [m.clone() for m in self.epoch_means]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch_means = [m.clone() for m in state["epoch_means"]]
        self._epoch_weights = None
