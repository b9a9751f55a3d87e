"""Fixed-weight linear scalarization: ``unitary`` (all ones) and ``linear`` (given weights)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from autoscale.methods.base import MethodInfo, PropertySpec, Weighting
from autoscale.methods.registry import register


def fixed_weights_for(num_tasks: int) -> dict[str, list[float]]:
    """Distinct fixed weights, so that a permutation of the tasks shows."""
    return {"weights": [0.5 + 1.5 * i / max(num_tasks - 1, 1) for i in range(num_tasks)]}


def permuted_weights(options: dict[str, Any], permutation: Sequence[int]) -> dict[str, Any]:
    """The fixed weights permuted along with the tasks."""
    return {**options, "weights": [options["weights"][i] for i in permutation]}


@register("linear")
class LinearScalarization(Weighting):
    """Linear scalarization: minimise sum_i w_i L_i with fixed weights w (any positive scale)."""

    info = MethodInfo(label="LS (fixed weights)", family="fixed")
    properties = PropertySpec(
        options=fixed_weights_for,
        reason="fixed per-task weights, permuted with the tasks",
        permute_options=permuted_weights,
    )

    def __init__(self, num_tasks: int, weights: Sequence[float]) -> None:
        super().__init__(num_tasks)
        w = torch.as_tensor(list(weights), dtype=torch.float32)
        if w.shape != (num_tasks,):
            raise ValueError(f"linear scalarization needs {num_tasks} weights, got {len(w)}: {list(weights)}")
        if not torch.isfinite(w).all() or (w < 0).any():
            raise ValueError(f"weights must be finite and non-negative, got {list(weights)}")
        self.fixed = w
        self._on_device: Tensor | None = None

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        # Kept on the losses' device: a copy from host memory every step would make the host wait
        # for the GPU. Callers must not modify the returned tensor in place.
        if self._on_device is None or (self._on_device.device, self._on_device.dtype) != (losses.device, losses.dtype):
            self._on_device = self.fixed.to(device=losses.device, dtype=losses.dtype)
        return self._on_device


@register("unitary")
class Unitary(LinearScalarization):
    """Equal weighting, w_i = 1 for every task (the 'unitary' baseline of Kurin et al. 2022)."""

    info = MethodInfo(label="Unitary LS", family="fixed", in_paper=True, table_row=900)
    properties = PropertySpec()

    def __init__(self, num_tasks: int) -> None:
        super().__init__(num_tasks, [1.0] * num_tasks)
