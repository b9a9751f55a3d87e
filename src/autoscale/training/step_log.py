"""Per-step losses, weights and step times, kept on the device and flushed once an epoch.

Reading a loss or a timer every step makes the host wait for the GPU (``.cpu()``, ``.item()``,
``torch.cuda.synchronize``), which for small models costs more than the step. On a CUDA device
the log therefore holds detached tensors and CUDA events, and checks finiteness with one
reduction at :meth:`StepLog.flush`; on the CPU there is nothing to wait for, so losses are
checked every step as before and times come from ``time.perf_counter``.

Shapes: one step adds losses and weights of shape (K,), or (M, K) for a stack of M runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass
class Flushed:
    """One epoch's steps: losses and weights (T, [M,] K) and step times (T,) in seconds."""

    losses: np.ndarray
    weights: np.ndarray
    times: np.ndarray
    first_nonfinite: tuple[int, ...] | None  # (step offset, [run,] task) of the first non-finite loss


class StepTimer:
    """Wall time of one step on ``device``: CUDA events on a GPU (no host wait), else perf_counter."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.start_event = torch.cuda.Event(enable_timing=True)
            self.end_event = torch.cuda.Event(enable_timing=True)
            self.start_event.record()
        else:
            self.started = time.perf_counter()
        self.excluded = 0.0

    def exclude(self, seconds: float) -> None:
        """Time spent in this step on work that is not the method's (the metrics of ``metrics_every``)."""
        self.excluded += seconds

    def stop(self) -> float | tuple[torch.cuda.Event, torch.cuda.Event, float]:
        if self.cuda:
            self.end_event.record()
            return self.start_event, self.end_event, self.excluded
        return time.perf_counter() - self.started - self.excluded


class StepLog:
    """Buffers one epoch of steps (see module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.deferred = device.type == "cuda"
        self._losses: list[Tensor] = []
        self._weights: list[Tensor] = []
        self._times: list = []

    def timer(self) -> StepTimer:
        return StepTimer(self.device)

    def add(self, losses: Tensor, weights: Tensor, timer: StepTimer) -> None:
        self._losses.append(losses.detach())
        self._weights.append(weights.detach().float())
        self._times.append(timer.stop())

    def __len__(self) -> int:
        return len(self._losses)

    def flush(self) -> Flushed:
        """Everything logged since the last flush, on the host (one wait for the device)."""
        if not self._losses:
            empty = np.zeros((0,))
            return Flushed(empty, empty, empty, None)
        losses_t = torch.stack(self._losses)
        bad = ~torch.isfinite(losses_t)
        losses = losses_t.cpu().numpy()
        weights = torch.stack([w.to(losses_t.device) for w in self._weights]).cpu().numpy()
        if self.deferred:
            torch.cuda.synchronize(self.device)
            times = np.array([start.elapsed_time(end) / 1000.0 - excluded for start, end, excluded in self._times])
        else:
            times = np.asarray(self._times, dtype=np.float64)
        first = None
        if bad.any():
            first = tuple(int(i) for i in bad.nonzero()[0].tolist())
        self._losses, self._weights, self._times = [], [], []
        return Flushed(losses, weights, times, first)
