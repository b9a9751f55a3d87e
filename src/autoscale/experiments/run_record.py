"""A typed, read-only view of one run record.

A run record is the dict :meth:`autoscale.training.trainer.Trainer.record` returns and the run store
keeps (:mod:`autoscale.experiments.store`). :class:`RunRecord` wraps it without copying and names the
fields the book's chapters read: the config, the tasks, the final metrics, the per-step arrays,
the MTO metric trajectories, AutoScale's own record and the provenance. The dict stays the stored
form (``data``), so the core's functions that take records (:mod:`autoscale.evaluate`) are called
with ``record.data``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoscale.evaluate import primary_metrics
from autoscale.experiments.records import is_stale


@dataclass(frozen=True)
class AutoScaleTrace:
    """What an AutoScale run recorded about its two phases (:meth:`autoscale.methods.autoscale.AutoScale.record`).

    ``window_steps`` (W,) are the windows' midpoints, ``window_weights`` (W, K) the weights solved
    on each window, ``final_weights`` (K,) the predicted ŵ used from ``switch_step`` = ⌊αT⌋ on
    (None if the run ended before the switch); ``window`` is τ and ``gamma`` the γ of the
    extrapolation point γT.
    """

    window_steps: np.ndarray
    window_weights: np.ndarray
    final_weights: np.ndarray | None
    switch_step: int
    window: int
    gamma: float


@dataclass(frozen=True)
class RunRecord:
    """One run record (``data``, as stored) with accessors for what the chapters read."""

    data: dict[str, Any]

    @classmethod
    def of(cls, record: RunRecord | dict[str, Any]) -> RunRecord:
        """``record`` as a :class:`RunRecord` (wrapped if it is the stored dict)."""
        return record if isinstance(record, RunRecord) else cls(record)

    # -- config ---------------------------------------------------------------------------------

    @property
    def seed(self) -> int:
        return int(self.data["config"]["seed"])

    @property
    def profile(self) -> str:
        return str(self.data["config"]["profile"])

    @property
    def metrics_every(self) -> int:
        """Steps between two logged MTO metric summaries."""
        return int(self.data["config"]["metrics_every"])

    @property
    def weights(self) -> tuple[float, ...]:
        """The fixed task weights of a linear-scalarization run (its ``weights`` method option)."""
        options = self.data["config"]["method_options"]
        if "weights" not in options:
            raise ValueError(f"a run of {self.data['config']['method']!r} has no fixed weights (options {options})")
        return tuple(float(w) for w in options["weights"])

    # -- tasks and final metrics ----------------------------------------------------------------

    @property
    def task_names(self) -> list[str]:
        return list(self.data["tasks"])

    @property
    def primary_metric_names(self) -> dict[str, str]:
        """Each task's primary metric (the one Δm and the tables use), e.g. ``{"left": "acc"}``."""
        return {task: info["primary"] for task, info in self.data["tasks"].items()}

    def metrics(self, split: str = "test") -> dict[str, float]:
        """Each task's primary metric after the last epoch, on ``split`` ("test" or "val")."""
        return primary_metrics(self.data, split)

    # -- per epoch and per step -----------------------------------------------------------------

    @property
    def total_steps(self) -> int:
        """Training steps of the whole run (T)."""
        return int(self.data["total_steps"])

    @property
    def epoch_steps(self) -> np.ndarray:
        """The step count at the end of each finished epoch."""
        return np.asarray([epoch["step"] for epoch in self.data["epochs"]], dtype=int)

    @property
    def step_losses(self) -> np.ndarray:
        """Task losses l_i of every training step, (T, K)."""
        return np.asarray(self.data["steps"]["loss"], dtype=float)

    @property
    def step_weights(self) -> np.ndarray:
        """Task weights w_i the method used at every training step, (T, K)."""
        return np.asarray(self.data["steps"]["weights"], dtype=float)

    @property
    def train_step_seconds(self) -> float:
        """Seconds spent in training steps: the sum of the step times (evaluation and metric
        logging excluded)."""
        return float(np.sum(np.asarray(self.data["steps"]["time_s"], dtype=float)))

    # -- MTO metric trajectories ----------------------------------------------------------------

    @property
    def metric_steps(self) -> np.ndarray:
        """The steps at which :func:`autoscale.metrics.summarize_step` was logged."""
        return np.asarray(self.data["metrics"]["step"])

    def trajectory(self, key: str) -> np.ndarray:
        """The logged values of one :func:`autoscale.metrics.summarize_step` key (e.g. ``gms``,
        ``cond``, ``loss_0``), one per :attr:`metric_steps`."""
        logged = self.data["metrics"]
        if key not in logged:
            raise KeyError(f"metric {key!r} was not logged in this run (metrics_every = {self.metrics_every})")
        return np.asarray(logged[key], dtype=float)

    # -- the method's record --------------------------------------------------------------------

    @property
    def autoscale(self) -> AutoScaleTrace | None:
        """AutoScale's record of its exploration and switch; None for a run of another method."""
        method = self.data["method"]
        if "switch_step" not in method:
            return None
        final = method["final_weights"]
        return AutoScaleTrace(
            window_steps=np.asarray(method["window_steps"], dtype=float),
            window_weights=np.asarray(method["window_weights"], dtype=float).reshape(-1, len(self.data["tasks"])),
            final_weights=None if final is None else np.asarray(final, dtype=float),
            switch_step=int(method["switch_step"]),
            window=int(method["config"]["window"]),
            gamma=float(method["config"]["gamma"]),
        )

    # -- provenance -----------------------------------------------------------------------------

    @property
    def device(self) -> str:
        """The device that trained the run, in words (e.g. ``cpu: x86_64, 1 threads``)."""
        return str(self.data["device"])

    @property
    def git_commit(self) -> str:
        return str(self.data["git_commit"])

    @property
    def config_hash(self) -> str | None:
        """The run's identity in the store (None for a record not saved there)."""
        return self.data.get("config_hash")

    @property
    def is_stale(self) -> bool:
        """Trained by other code than the current (:func:`autoscale.experiments.records.is_stale`)."""
        return is_stale(self.data)


def run_records(records: Iterable[dict[str, Any]]) -> list[RunRecord]:
    """The store's record dicts as :class:`RunRecord` views, in order."""
    return [RunRecord(r) for r in records]
