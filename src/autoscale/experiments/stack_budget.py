"""Stacks sized to the time left: a lent GPU's minutes end with whole stacks, not half-trained ones.

A stack stopped at a deadline leaves only a checkpoint on a machine that is given back, so its
minutes are lost. Stacking shares per-step overheads, so a stack of n runs takes about a + b n
seconds with a large fixed part a (on an H100, 4 scene runs took 132 s, 64 did not finish in
316 s). The budget keeps the measured (runs, seconds) of every finished stack per kind of run, from
this session and from the committed summaries of earlier ones, and plans the next stack with:

- nothing measured: a probe of ``probe_size`` runs;
- one stack size measured: t(n) = t_m max(1, n / m), which never under-estimates (a smaller stack
  is not faster than a measured larger one by more than its share, and a larger one costs at most
  proportionally more);
- several sizes: the least-squares line a + b n through them.

The next stack holds the most runs whose estimate fits ``margin`` of the time left.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoscale.training.config import RunConfig


@dataclass
class StackBudget:
    """Chooses the size of the next stack of one kind of run from the seconds left.

    ``kind`` maps a run to what its cost depends on (a JSON-friendly tuple, so timings can be
    stored with a session); ``margin`` is the share of the time left a stack may plan to use."""

    kind: Callable[[RunConfig], tuple]
    probe_size: int = 4
    margin: float = 0.85
    timings: dict[Hashable, list[tuple[int, float]]] = field(default_factory=dict)

    def estimate(self, kind: Hashable, runs: int) -> float | None:
        """Expected seconds of a stack of ``runs`` runs of ``kind``; None before any measurement."""
        points = self.timings.get(kind)
        if not points:
            return None
        sizes = np.array([n for n, _ in points], dtype=float)
        seconds = np.array([t for _, t in points], dtype=float)
        if len(set(sizes)) == 1:
            return float(seconds.max() * max(1.0, runs / sizes[0]))
        slope, intercept = np.polyfit(sizes, seconds, 1)
        if slope < 0:  # noise between close sizes: assume no saving from fewer runs
            return float(seconds.max())
        if intercept < 0:
            return float(runs * (seconds / sizes).max())
        return float(intercept + slope * runs)

    def size(self, config: RunConfig, seconds_left: float, cap: int) -> int:
        """How many runs like ``config`` the next stack holds (at most ``cap``); 0 when even one run
        is not expected to finish in ``seconds_left``."""
        if seconds_left <= 0:
            return 0
        kind = self.kind(config)
        if self.estimate(kind, 1) is None:
            return min(cap, self.probe_size)
        fits = [n for n in range(1, cap + 1) if self.estimate(kind, n) <= self.margin * seconds_left]
        return max(fits, default=0)

    def row(self, stack: list[RunConfig], seconds: float) -> dict[str, Any]:
        """The timing row a session stores for ``stack`` (what :meth:`add_sessions` reads back)."""
        return {"kind": list(self.kind(stack[0])), "runs": len(stack), "seconds": seconds}

    def record(self, stack: list[RunConfig], seconds: float) -> dict[str, Any]:
        """A finished stack of ``stack`` took ``seconds``: learn it; returns its :meth:`row`."""
        row = self.row(stack, seconds)
        self.timings.setdefault(tuple(row["kind"]), []).append((len(stack), seconds))
        return row

    def add_sessions(self, sessions: Iterable[Mapping[str, Any]], device: str) -> None:
        """Takes the stack timings of earlier sessions on ``device`` (rows of :meth:`record` kept
        under each tier's ``"stacks"``)."""
        for session in sessions:
            if session.get("device") != device:
                continue
            for entry in session.get("tiers", {}).values():
                for row in entry.get("stacks", []):
                    self.timings.setdefault(tuple(row["kind"]), []).append((row["runs"], row["seconds"]))
