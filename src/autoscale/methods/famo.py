"""FAMO (Liu et al., "Fast adaptive multitask optimization", NeurIPS 2023).

Uses only the task losses (no Gramian). Its state (K logits, their Adam moments, the minimum losses)
follows the losses to their device on the first step, so that a GPU step never waits for the host.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from autoscale.methods._common import check_positive
from autoscale.methods.base import MethodInfo, PropertySpec, Weighting
from autoscale.methods.registry import register


@register("famo")
class FAMO(Weighting):
    """Fast adaptive multitask optimisation (Liu et al., NeurIPS 2023), official ``Cranial-XIX/FAMO``.

    FAMO back-propagates c^{-1} sum_i z_i log(L_i - m_i + eps) with z = softmax(xi) and
    c = sum_j z_j / (L_j - m_j + eps) held constant (``famo.py``, ``get_weighted_loss``). Its gradient is
    sum_i w_i grad L_i with

        w_i = z_i / (c (L_i - m_i + eps)),

    so one backward of sum_i w_i L_i gives FAMO's update; the weights sum to 1 by the definition of c
    (the official scale: FAMO's update is a convex combination of the task gradients).

    After the optimiser step the trainer recomputes the losses of the same batch and calls
    :meth:`post_step`: with delta_i = log(L_i^before - m_i + eps) - log(L_i^after - m_i + eps) the logits
    get one Adam step along d softmax(xi)/d xi ^T delta = z * (delta - z·delta) (official ``update``).
    Official defaults: Adam lr ``w_lr = 0.025``, weight decay ``gamma = 0.01``, ``min_losses`` = 0,
    eps = 1e-8, logits start at 0. The official method also clips the shared gradient norm to
    ``max_norm = 1.0`` after the backward pass; :attr:`max_grad_norm` tells the trainer
    (``max_norm = 0`` disables clipping). torchjd's ``scalarization.FAMO`` is the same algorithm but defaults to
    weight decay 1e-3 and returns the log objective instead of weights.
    """

    info = MethodInfo(label="FAMO", family="loss", in_paper=True, table_row=80)
    properties = PropertySpec(
        equivariance="trajectory", reason="logits trained by its own Adam from post_step losses", tol=1e-6
    )

    needs_post_step_losses = True
    eps = 1e-8

    def __init__(
        self,
        num_tasks: int,
        gamma: float = 0.01,
        w_lr: float = 0.025,
        min_losses: Sequence[float] | None = None,
        max_norm: float = 1.0,
    ) -> None:
        super().__init__(num_tasks)
        check_positive("gamma", gamma, allow_zero=True)
        check_positive("w_lr", w_lr)
        check_positive("max_norm", max_norm, allow_zero=True)
        mins = torch.zeros(num_tasks) if min_losses is None else torch.as_tensor(list(min_losses), dtype=torch.float32)
        if mins.shape != (num_tasks,) or not torch.isfinite(mins).all():
            raise ValueError(f"min_losses must be {num_tasks} finite numbers, got {min_losses!r}")
        self.gamma, self.w_lr, self.max_norm = float(gamma), float(w_lr), float(max_norm)
        self.min_losses = mins
        self.logits = nn.Parameter(torch.zeros(num_tasks))
        self.optimizer = self._adam()
        self.shifted_before: Tensor | None = None  # L - m + eps of the last weights() call

    @property
    def max_grad_norm(self) -> float | None:
        return self.max_norm or None

    def _adam(self) -> torch.optim.Adam:
        return torch.optim.Adam([self.logits], lr=self.w_lr, weight_decay=self.gamma)

    def _follow(self, device: torch.device) -> None:
        """Move the state to ``device`` (once: the trainer's losses stay on one device)."""
        if self.logits.device == device:
            return
        saved = self.optimizer.state_dict()
        self.logits = nn.Parameter(self.logits.detach().to(device))
        self.optimizer = self._adam()
        # Adam moves its saved moments to the parameter's device by its own rules (its step count stays on the host).
        self.optimizer.load_state_dict(saved)
        self.min_losses = self.min_losses.to(device)
        if self.shifted_before is not None:
            self.shifted_before = self.shifted_before.to(device)

    def _shifted(self, losses: Tensor) -> Tensor:
        """L - m + eps in float32. Checked positive on the CPU only: on a GPU reading the check would
        make the host wait every step; there a loss at or below its minimum gives non-finite weights,
        hence non-finite losses, which the trainer's epoch check reports with the task's name."""
        shifted = losses.detach().float() - self.min_losses + self.eps
        if shifted.device.type == "cpu" and (shifted <= 0).any():
            raise ValueError(f"FAMO needs losses above min_losses; got losses {losses.tolist()}")
        return shifted

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        self.check_inputs(losses, gramian)
        self._follow(losses.device)
        self.shifted_before = self._shifted(losses)
        z = torch.softmax(self.logits.detach(), dim=0)
        c = (z / self.shifted_before).sum()
        return (z / (c * self.shifted_before)).to(losses.dtype)

    def post_step(self, losses_after: Tensor) -> None:
        if self.shifted_before is None:
            raise RuntimeError("FAMO.post_step called before weights() for this step")
        self.check_inputs(losses_after, None)
        delta = torch.log(self.shifted_before) - torch.log(self._shifted(losses_after))
        z = torch.softmax(self.logits.detach(), dim=0)
        self.optimizer.zero_grad()
        self.logits.grad = z * (delta - (z * delta).sum())  # softmax Jacobian (symmetric) times delta
        self.optimizer.step()
        self.shifted_before = None

    def record(self) -> dict[str, Any]:
        return {"task_distribution": torch.softmax(self.logits.detach(), dim=0).tolist()}

    def state_dict(self) -> dict[str, Any]:
        # deepcopy: Adam updates its moment tensors in place, which would alter a saved state.
        return copy.deepcopy(
            {"logits": self.logits.detach(), "optimizer": self.optimizer.state_dict(), "before": self.shifted_before}
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)
        with torch.no_grad():
            self.logits.copy_(state["logits"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.shifted_before = state["before"]
