"""PCGrad (Yu et al., "Gradient surgery for multi-task learning", NeurIPS 2020)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from autoscale.methods._common import GramianWeighting, seeded_generator
from autoscale.methods.base import MethodInfo, PropertySpec
from autoscale.methods.registry import register


@register("pcgrad")
class PCGrad(GramianWeighting):
    """PCGrad as task weights: the projected gradients are tracked as combinations of the g_j.

    For each task i, g_i^PC starts at g_i; for each other task j != i in a random order, if
    g_i^PC · g_j < 0 then g_i^PC <- g_i^PC - (g_i^PC · g_j / |g_j|^2) g_j (the already-projected g_i
    against the *original* g_j, as in the official code). Writing g_i^PC = sum_j c_ij g_j, the
    test and the update only need G: g_i^PC · g_j = (G c_i)_j. The update is the sum
    sum_i g_i^PC (official reduction), so the weights are w = sum_i c_i (all 1 when nothing conflicts).

    Which tasks are visited: the paper's Algorithm 1 projects g_i against the *other* tasks j != i,
    in a random order for each i; this class follows the paper. The official code (TensorFlow) and
    Pytorch-PCGrad (used by Nash-MTL) shuffle all K gradients, g_i included, so they also project
    the running g_i^PC against its own original g_i when earlier projections have turned it against
    g_i (g_i^PC · g_i < 0, possible with three or more tasks); with two tasks the two agree.
    torchjd's ``PCGradWeighting`` draws its permutations from the global RNG; this class owns a
    ``torch.Generator`` (option ``seed``), saved in :meth:`state_dict`, so runs are reproducible and
    resume identically.
    """

    info = MethodInfo(label="PCGrad", family="gramian", in_paper=True, table_row=40)
    properties = PropertySpec(
        equivariance="random",
        reason="random projection order: exact equivariance for K = 2, set membership of the update for K = 3",
        state_options={"seed": 0},
    )

    run_options = ("seed",)

    def __init__(self, num_tasks: int, seed: int | None = None) -> None:
        super().__init__(num_tasks)
        self.generator = seeded_generator(seed)

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        k = self.num_tasks
        total = torch.zeros(k, dtype=torch.float64)
        for i in range(k):
            coefficients = torch.zeros(k, dtype=torch.float64)
            coefficients[i] = 1.0
            for j in torch.randperm(k, generator=self.generator).tolist():
                if j == i:
                    continue
                inner = float(gramian[j] @ coefficients)
                if inner < 0.0:  # implies G_jj > 0
                    coefficients[j] -= inner / float(gramian[j, j])
            total += coefficients
        return total

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
