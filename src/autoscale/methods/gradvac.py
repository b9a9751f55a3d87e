"""Gradient Vaccine (Wang et al., "Gradient Vaccine: Investigating and Improving Multi-task
Optimization in Massively Multilingual Models", ICLR 2021)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from autoscale.methods._common import GramianWeighting, seeded_generator
from autoscale.methods.base import MethodInfo, PropertySpec
from autoscale.methods.registry import register


@register("gradvac")
class GradVac(GramianWeighting):
    """GradVac: raise the cosine of each pair of task gradients to an adaptive, per-pair target.

    Paper, Sec. 3 and its pseudo-code (Algorithm 1), whole-model granularity (one parameter group), in the
    convention of LibMTL (``LibMTL/weighting/GradVac.py``, the reference MTL implementation: the
    authors released no code) and of torchjd's ``GradVacWeighting``. Each step, for each task i,
    g_i^PC starts at g_i and the other tasks j are visited in a random order; with
    phi = cos(g_i^PC, g_j) (= g_i^PC · g_j / (|g_i^PC| |g_j| + eps)) and the target phi_hat_ij:

    - if phi < phi_hat_ij, g_i^PC += c g_j with
      c = |g_i^PC| (phi_hat_ij sqrt(1 - phi^2) - phi sqrt(1 - phi_hat_ij^2)) / (|g_j| sqrt(1 - phi_hat_ij^2) + eps),
      the multiple of g_j that brings the cosine to phi_hat_ij;
    - then (whether or not it corrected) phi_hat_ij <- (1 - beta) phi_hat_ij + beta phi, with phi the
      cosine measured *before* the correction (the paper's target is an EMA of the observed similarity;
      LibMTL since its fix of Feb. 2024, and torchjd; older LibMTL updated it only after a correction).

    The update is sum_i g_i^PC (LibMTL's ``pc_grads.sum(0)``). eps = 1e-8, targets start at 0 (so the
    first step is PCGrad's projection of conflicting pairs, up to eps). All of it needs only inner
    products: writing g_i^PC = sum_k C_ik g_k, g_i^PC · g_j = (C G)_ij and |g_i^PC|^2 = C_i G C_i^T, so it
    runs on the Gramian and a K x K coefficient matrix C (C = I at the start of each step); the
    weights are w = sum_i C_i (all 1 when nothing is corrected: the weights sum to K then).

    Default beta = 0.5: the default of LibMTL and torchjd (no official code exists); beta is an option.

    Why not torchjd's ``GradVacWeighting`` itself: it computes exactly the above, but draws its visiting
    orders from the global torch RNG and keeps its targets in a private buffer. Here the orders come
    from the method's own ``torch.Generator`` (option ``seed``, drawn as torchjd does: one
    ``randperm(K - 1)`` per task i, over the other tasks in increasing order), and the targets and
    the generator state are in :meth:`state_dict`, so a run is reproducible and resumes exactly. One
    deliberate difference: a task j with a zero gradient (G_jj = 0) is never "corrected towards":
    the official rule would add c g_j = 0 to g_i^PC with c about |g_i^PC| phi_hat / eps (up to 1e8),
    which does not change the shared update but would multiply task j's head gradient by c here. Its
    target is still updated (with phi = 0).
    """

    info = MethodInfo(label="GradVac", family="gramian", table_row=180)
    properties = PropertySpec(
        equivariance="random",
        reason="random visiting order of the other tasks for each task: exact equivariance for K = 2, where "
        "the order cannot matter; for K >= 3 the update is one of those of the orders",
        state_options={"seed": 0},
    )

    run_options = ("seed",)
    eps = 1e-8

    def __init__(self, num_tasks: int, beta: float = 0.5, seed: int | None = None) -> None:
        super().__init__(num_tasks)
        if not isinstance(beta, int | float) or not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be a number in [0, 1], got {beta!r}")
        self.beta = float(beta)
        self.generator = seeded_generator(seed)
        # targets[i, j]: the EMA target of cos(g_i^PC, g_j) (not symmetric: each i has its own).
        self.targets = torch.zeros(num_tasks, num_tasks, dtype=torch.float64)

    def visiting_order(self, task: int) -> list[int]:
        """The other tasks in the order they are visited for ``task`` (one draw of the generator)."""
        others = [j for j in range(self.num_tasks) if j != task]
        return [others[p] for p in torch.randperm(len(others), generator=self.generator).tolist()]

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        k = self.num_tasks
        g = gramian.numpy()
        targets = self.targets.numpy().copy()
        norms = np.sqrt(np.clip(np.diag(g), 0.0, None))
        coefficients = np.eye(k)
        beta, eps = self.beta, self.eps
        for i in range(k):
            c = coefficients[i]  # a view: corrections are written into the matrix
            for j in self.visiting_order(i):
                inner = float(c @ g[:, j])
                norm_i = math.sqrt(max(float(c @ g @ c), 0.0))
                cosine = inner / (norm_i * norms[j] + eps)
                target = float(targets[i, j])
                if cosine < target and norms[j] > 0.0:
                    # The sqrt arguments are clipped: rounding can put |cosine| a hair above 1.
                    numerator = target * math.sqrt(max(1.0 - cosine**2, 0.0)) - cosine * math.sqrt(
                        max(1.0 - target**2, 0.0)
                    )
                    c[j] += norm_i * numerator / (norms[j] * math.sqrt(max(1.0 - target**2, 0.0)) + eps)
                targets[i, j] = (1.0 - beta) * target + beta * cosine
        self.targets = torch.from_numpy(targets)
        return torch.from_numpy(coefficients.sum(axis=0))

    def record(self) -> dict[str, Any]:
        return {"targets": self.targets.tolist()}

    def state_dict(self) -> dict[str, Any]:
        return {"targets": self.targets.clone(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.targets = state["targets"].to(dtype=torch.float64).clone()
        self.generator.set_state(state["generator"])
