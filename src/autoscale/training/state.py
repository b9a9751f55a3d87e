"""The state of one run: what it has produced so far, what a checkpoint holds, what the record is made of."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from autoscale.metrics import layer_conflict, summarize_step


@dataclass
class RunState:
    """Progress of a run (epochs and steps done), its per-step log and its MTO metric trajectories.

    ``step_loss``/``step_weights`` hold one row (K,) per training step and ``step_time_s`` one time;
    ``metrics`` holds the trajectories of :func:`autoscale.metrics.summarize_step` at the logged
    steps (``metrics["step"]``); ``initial_loss`` is L(0), the losses of the first logged step.
    ``gramian_cache`` is the last method Gramian of a run with the ``every:s`` Gramian mode, kept
    here so that it survives a checkpoint.
    """

    epoch: int = 0
    step: int = 0
    epochs: list[dict[str, Any]] = field(default_factory=list)
    step_loss: list[list[float]] = field(default_factory=list)
    step_weights: list[list[float]] = field(default_factory=list)
    step_time_s: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    initial_loss: list[float] | None = None
    train_seconds: float = 0.0
    gramian_cache: Tensor | None = None

    def add_steps(self, losses: np.ndarray, weights: np.ndarray, times: np.ndarray) -> None:
        """Append flushed steps: losses and weights (T, K), times (T,)."""
        self.step_loss.extend(losses.tolist())
        self.step_weights.extend(weights.tolist())
        self.step_time_s.extend(times.tolist())

    def mean_loss_since(self, first_step: int) -> np.ndarray:
        """Mean training losses (K,) of the steps from ``first_step`` on (one epoch's)."""
        return np.mean(self.step_loss[first_step:], axis=0)

    def log_metrics(
        self, step: int, gramian: Tensor, losses: Tensor, weights: Tensor, layers: Mapping[str, Tensor]
    ) -> None:
        """Append the MTO metrics of one step (:func:`autoscale.metrics.summarize_step`, in the dtype
        of the inputs) and the gradient conflict of each layer from its Gramian in ``layers``
        (:func:`autoscale.metrics.layer_conflict`); the first logged losses become the run's L(0)."""
        if self.initial_loss is None:
            self.initial_loss = losses.cpu().tolist()
        l0 = torch.tensor(self.initial_loss, dtype=losses.dtype, device=losses.device)
        self.metrics.setdefault("step", []).append(step)
        for key, value in {**summarize_step(gramian, losses, l0, weights), **layer_conflict(layers)}.items():
            self.metrics.setdefault(key, []).append(value)

    def to_checkpoint(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any]) -> RunState:
        return cls(**saved)
