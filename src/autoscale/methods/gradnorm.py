"""GradNorm (Chen et al., "GradNorm: gradient normalization for adaptive loss balancing", ICML 2018)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from autoscale.methods._common import GramianWeighting, check_positive
from autoscale.methods.base import MethodInfo, PropertySpec
from autoscale.methods.registry import register


@register("gradnorm")
class GradNorm(GramianWeighting):
    """GradNorm: task weights learnt so that weighted gradient norms follow the training rates.

    Algorithm 1 of the paper. At step t, with weights w (start at 1) and G_i^W = w_i |g_i| where
    |g_i| = sqrt(G_ii):

    - the model step uses w(t) (the returned weights, detached);
    - r_i = (L_i(t) / L_i(0)) / mean_j (L_j(t) / L_j(0)) is the relative inverse training rate, with
      L(0) the losses of the first step;
    - the GradNorm loss sum_i | G_i^W - mean_j(G_j^W) r_i^alpha | is differentiated w.r.t. w only, the
      target mean_j(G_j^W) r_i^alpha being held constant (paper, Sec. 3.2);
    - w takes one step of the method's own Adam, then is renormalised to sum K (paper: "renormalize so
      that sum_i w_i(t+1) = T").

    Weights sum to K. Defaults: alpha = 1.5 (the paper's NYUv2 value), Adam lr = 0.025. GradNorm has no
    official code; 0.025 is the learning rate of the weights in the common PyTorch reimplementations
    and the method-parameter learning rate of the Nash-MTL/FAMO trainers (LibMTL instead learns
    K softmax(logits) with the model's optimiser). The paper measures |g_i| on the last shared layer
    W to save compute; here |g_i| comes from the Gramian the trainer passes (by default w.r.t. all
    shared parameters; the trainer can compute it on the last shared layer instead).
    """

    info = MethodInfo(label="GradNorm", family="gramian", in_paper=True, table_row=20)
    properties = PropertySpec(equivariance="trajectory", reason="weights trained by its own Adam, initial losses kept")

    def __init__(self, num_tasks: int, alpha: float = 1.5, lr: float = 0.025) -> None:
        super().__init__(num_tasks)
        check_positive("alpha", alpha, allow_zero=True)
        check_positive("lr", lr)
        self.alpha, self.lr = float(alpha), float(lr)
        self.task_weights = nn.Parameter(torch.ones(num_tasks, dtype=torch.float64))
        self.optimizer = torch.optim.Adam([self.task_weights], lr=self.lr)
        self.initial_losses: Tensor | None = None

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        if self.initial_losses is None:
            if (losses <= 0).any():
                raise ValueError(f"GradNorm needs positive losses for its training rates, got {losses.tolist()}")
            self.initial_losses = losses.clone()
        used = self.task_weights.detach().clone()
        norms = torch.sqrt(torch.diagonal(gramian).clamp(min=0.0))
        ratios = losses / self.initial_losses
        rates = ratios / ratios.mean()
        with torch.enable_grad():
            weighted_norms = self.task_weights * norms
            target = (weighted_norms.mean() * rates**self.alpha).detach()
            gradnorm_loss = (weighted_norms - target).abs().sum()
            self.optimizer.zero_grad()
            gradnorm_loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            self.task_weights.mul_(self.num_tasks / self.task_weights.sum())
        return used

    def record(self) -> dict[str, Any]:
        return {"task_weights": self.task_weights.detach().tolist()}

    def state_dict(self) -> dict[str, Any]:
        # deepcopy: Adam updates its moment tensors in place, which would alter a saved state.
        return copy.deepcopy(
            {
                "task_weights": self.task_weights.detach(),
                "optimizer": self.optimizer.state_dict(),
                "initial_losses": self.initial_losses,
            }
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)
        with torch.no_grad():
            self.task_weights.copy_(state["task_weights"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.initial_losses = state["initial_losses"]
