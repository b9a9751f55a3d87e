"""Stacks sized to the time left: a lent GPU's minutes end with whole stacks, not half-trained ones.

A stack stopped at a deadline leaves only a checkpoint on a machine that is given back, so its
minutes are lost. The first stack of each kind of run is a small probe; every finished stack
gives the seconds one run of that kind took, and the next stack holds as many runs as fit the
time left at that rate. The estimate is linear in the stack size, which over-estimates a larger
stack (stacking shares the per-step overheads), so stacks grow as measurements come in and a
stack that is started is expected to finish.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from autoscale.training.config import RunConfig


@dataclass
class StackBudget:
    """Chooses the size of the next stack of one kind of run from the seconds left.

    ``kind`` maps a run to what its cost depends on (benchmark, profile, method, ...); ``margin`` is
    the share of the time left a stack may plan to use."""

    kind: Callable[[RunConfig], Hashable]
    probe_size: int = 4
    margin: float = 0.85
    seconds_per_run: dict[Hashable, float] = field(default_factory=dict)

    def size(self, config: RunConfig, seconds_left: float, cap: int) -> int:
        """How many runs like ``config`` the next stack holds (at most ``cap``); 0 when even one run
        is not expected to finish in ``seconds_left``."""
        rate = self.seconds_per_run.get(self.kind(config))
        if rate is None:
            return min(cap, self.probe_size) if seconds_left > 0 else 0
        return max(0, min(cap, math.floor(self.margin * seconds_left / rate)))

    def record(self, stack: list[RunConfig], seconds: float) -> None:
        """A finished stack of ``stack`` took ``seconds``: the latest rate of its kind."""
        self.seconds_per_run[self.kind(stack[0])] = seconds / len(stack)
