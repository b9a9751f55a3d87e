"""Smooth Tchebycheff scalarization (Lin et al., "Smooth Tchebycheff Scalarization for Multi-Objective
Optimization", ICML 2024), in the multi-task form of the official code."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from autoscale.methods._common import check_positive
from autoscale.methods.base import MethodInfo, PropertySpec, Weighting
from autoscale.methods.registry import register


@register("stch")
class STCH(Weighting):
    """STCH: a smooth maximum of the log-losses relative to a nadir point, after a log-loss warm-up.

    Official MTL code (``Xi-L/STCH``, ``STCH_MTL/LibMTL/weighting/STCH.py``, identical in LibMTL), with
    e the 0-based epoch and E = ``warmup_epoch``:

    - e < E: back-propagate sum_i log(L_i + 1e-20);
    - e = E: the same, and average the batch losses of every step of this epoch into the nadir
      vector z (per task, the plain mean over the epoch's steps);
    - e > E: back-propagate K mu log sum_i exp(log(L_i / z_i + 1e-20) / mu): the paper's smooth
      Tchebycheff scalarization mu log sum_i exp(lambda_i (f_i - z*_i) / mu) (Sec. 3) of the objectives
      f_i = log(L_i / z_i), with ideal point z* = 0 and preference lambda = 1; the official code
      multiplies by K and subtracts the detached maximum before the exponential, which does not
      change the gradient.

    As a weighting, w_i = dJ/dL_i (detached), so one backward of sum_i w_i L_i gives the official update:

    - warm-up (e <= E): w_i = 1 / (L_i + 1e-20);
    - afterwards: w_i = K softmax_i(log(L / z + 1e-20) / mu) / (L_i + 1e-20 z_i)
      (d/dL_i log(L_i / z_i + 1e-20) = 1 / (L_i + 1e-20 z_i)).

    Weight scale: both phases weight the gradients of the log-losses, grad log(L_i + ...) =
    grad L_i / (L_i + ...); those weights are 1 each during the warm-up and K softmax(...) afterwards,
    summing to K in both phases. The warm-up is therefore not equal weighting of the losses (the
    official code returns a vector of ones as its "batch weight", for logging only).
    Defaults: mu = 1, E = 4 (official ``LibMTL/config.py``: ``STCH_mu`` 1.0, ``STCH_warmup_epoch`` 4;
    the official NYUv2 command keeps them), so epochs 0-3 are pure log-loss training, epoch 4 also
    records the nadir, and STCH proper starts at epoch 5. Epochs are counted by :meth:`epoch_end`
    (the trainer calls it once per epoch, as LibMTL sets its epoch counter); the nadir vector is formed
    at the first step after the warm-up, from the losses given to :meth:`weights` during epoch E.

    Losses must be >= 0 (checked for losses on the CPU; on a GPU it would cost a host synchronisation
    every step); the nadir vector must be > 0 (checked once, when it is formed). Computations are in
    float64 on the losses' device; the weights are returned in the losses' dtype.
    """

    info = MethodInfo(label="STCH", family="loss", table_row=190)
    properties = PropertySpec(
        equivariance="trajectory",
        reason="counts epochs (epoch_end) and averages the warm-up epoch's losses into the nadir vector",
    )

    eps = 1e-20

    def __init__(self, num_tasks: int, mu: float = 1.0, warmup_epoch: int = 4) -> None:
        super().__init__(num_tasks)
        check_positive("mu", mu)
        if not isinstance(warmup_epoch, int) or isinstance(warmup_epoch, bool) or warmup_epoch < 0:
            raise ValueError(f"warmup_epoch must be an integer >= 0, got {warmup_epoch!r}")
        self.mu = float(mu)
        self.warmup_epoch = warmup_epoch
        self.epoch = 0
        self._loss_sum: Tensor | None = None  # float64, on the losses' device (no copy to the host per step)
        self._loss_count = 0
        self.nadir: Tensor | None = None  # float64 on the CPU
        self._nadir_on_device: Tensor | None = None  # its copy on the losses' device (no copy per step)

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        self.check_inputs(losses, gramian)
        if losses.device.type == "cpu" and (losses < 0).any():
            raise ValueError(f"STCH needs non-negative losses (it takes their logarithm), got {losses.tolist()}")
        current = losses.detach().to(torch.float64)
        if self.epoch <= self.warmup_epoch:
            if self.epoch == self.warmup_epoch:
                total = self._loss_sum
                self._loss_sum = current.clone() if total is None else total.to(current.device) + current
                self._loss_count += 1
            w = 1.0 / (current + self.eps)
        else:
            nadir = self._nadir_on(current.device)
            z = torch.log(current / nadir + self.eps) / self.mu
            w = self.num_tasks * torch.softmax(z, dim=0) / (current + self.eps * nadir)
        return w.to(dtype=losses.dtype)

    def _nadir_on(self, device: torch.device) -> Tensor:
        cached = self._nadir_on_device
        if cached is None or cached.device != device:
            self._nadir_on_device = cached = self._nadir().to(device)
        return cached

    def _nadir(self) -> Tensor:
        if self.nadir is None:
            if self._loss_sum is None:
                raise RuntimeError(
                    f"STCH: no step ran during the warm-up epoch {self.warmup_epoch}, so there is no nadir vector"
                )
            nadir = (self._loss_sum / self._loss_count).to("cpu")
            if not (nadir > 0).all():
                raise ValueError(
                    f"STCH: the nadir vector (mean losses of epoch {self.warmup_epoch}) must be > 0, got "
                    f"{nadir.tolist()}"
                )
            self.nadir = nadir
        return self.nadir

    def epoch_end(self, mean_losses: Tensor) -> None:
        self.epoch += 1

    def record(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "nadir": None if self.nadir is None else self.nadir.tolist()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "loss_sum": None if self._loss_sum is None else self._loss_sum.detach().to("cpu").clone(),
            "loss_count": self._loss_count,
            "nadir": None if self.nadir is None else self.nadir.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self._loss_sum = None if state["loss_sum"] is None else state["loss_sum"].to(torch.float64).clone()
        self._loss_count = int(state["loss_count"])
        self.nadir = None if state["nadir"] is None else state["nadir"].to("cpu", torch.float64).clone()
        self._nadir_on_device = None
