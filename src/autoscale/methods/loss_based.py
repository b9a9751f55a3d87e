"""Weightings that use only the task losses: RLW, UW, DWA and FAMO.

None of them needs the Gramian. Their internal state lives on the CPU (K numbers); the weights are
handed back on the device and in the dtype of the losses.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from autoscale.methods._common import check_positive, seeded_generator
from autoscale.methods.base import Weighting
from autoscale.methods.registry import register


@register("rlw")
class RandomLossWeighting(Weighting):
    """Random loss weighting (Lin et al., "Reasonable effectiveness of random weighting", TMLR 2022).

    Every step draws z ~ N(0, I_K) and uses w = softmax(z): weights sum to 1. This is the paper's
    Algorithm 2 with the normal distribution, the default of LibMTL (the authors' library,
    ``LibMTL/weighting/RLW.py``, ``dist='Normal'``). torchjd's ``scalarization.Random`` is the same but
    draws from the global RNG; here the method owns a ``torch.Generator`` (option ``seed``) whose state
    is in :meth:`state_dict`, so a run is reproducible and resumes identically.

    For losses on a GPU the draws of the next ``BLOCK`` steps are made at once (the same successive
    draws, so the same weights) and copied in one transfer: a copy from host memory every step
    would make the host wait for the device.
    """

    BLOCK = 256
    run_options = ("seed",)

    def __init__(self, num_tasks: int, seed: int | None = None) -> None:
        super().__init__(num_tasks)
        self.generator = seeded_generator(seed)
        self._queue: list[Tensor] = []  # drawn, not yet used (GPU losses only)

    def _draw(self) -> Tensor:
        return torch.softmax(torch.randn(self.num_tasks, generator=self.generator, dtype=torch.float64), dim=0)

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        self.check_inputs(losses, gramian)
        if losses.device.type == "cpu":
            return self._draw().to(dtype=losses.dtype)
        if not self._queue or self._queue[0].device != losses.device:
            # Draws left over from another device (or from a checkpoint) join the new block as they
            # were drawn, float64 on the host, so the sequence of weights is unchanged.
            left = [w.to("cpu", torch.float64) for w in self._queue]
            block = torch.stack([*left, *(self._draw() for _ in range(self.BLOCK - len(left)))])
            self._queue = list(block.to(device=losses.device, dtype=losses.dtype).unbind(0))
        return self._queue.pop(0)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "queue": [w.cpu().double() for w in self._queue]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._queue = list(state.get("queue", []))


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


@register("dwa")
class DynamicWeightAverage(Weighting):
    """Dynamic weight average (Liu et al., "End-to-end multi-task learning with attention", CVPR 2019).

    At epoch e >= 2, w_i = K softmax(r / T)_i with r_i = L_i(e-1) / L_i(e-2), the ratio of the epoch-mean
    training losses of the two previous epochs (Eq. 1 of the paper; official mtan code and LibMTL);
    w = 1 during the first two epochs. Weights sum to K. Temperature T = 2 as in the paper.
    The epoch means come from :meth:`epoch_end` (the trainer calls it once per epoch).
    """

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
        self.optimizer = torch.optim.Adam([self.logits], lr=self.w_lr, weight_decay=self.gamma)
        self.shifted_before: Tensor | None = None  # L - m + eps of the last weights() call

    @property
    def max_grad_norm(self) -> float | None:
        return self.max_norm or None

    def _shifted(self, losses: Tensor) -> Tensor:
        shifted = losses.detach().to("cpu", torch.float32) - self.min_losses + self.eps
        if (shifted <= 0).any():
            raise ValueError(f"FAMO needs losses above min_losses; got losses {losses.tolist()}")
        return shifted

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        self.check_inputs(losses, gramian)
        self.shifted_before = self._shifted(losses)
        z = torch.softmax(self.logits.detach(), dim=0)
        c = (z / self.shifted_before).sum()
        return (z / (c * self.shifted_before)).to(device=losses.device, dtype=losses.dtype)

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
