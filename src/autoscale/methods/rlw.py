"""RLW (Lin et al., "Reasonable effectiveness of random weighting", TMLR 2022): random loss weights.

Uses only the task losses (no Gramian); its state lives on the CPU (K numbers), and the weights are
handed back on the device and in the dtype of the losses.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from autoscale.methods._common import seeded_generator
from autoscale.methods.base import MethodInfo, PropertySpec, Weighting
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

    info = MethodInfo(label="RLW", family="loss", in_paper=True, table_row=60)
    properties = PropertySpec(
        equivariance="random",
        reason="draws independent of the inputs: same seed, any inputs, same weights",
        state_options={"seed": 0},
    )

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
