"""The configuration of one run (:class:`RunConfig`) and the errors a run can stop with."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoscale.gramian import parse_gramian_mode
from autoscale.methods import method_class

OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = ("none", "step", "cosine")
SPLITS = ("train", "val", "test")
PRECISIONS = ("fp32", "bf16")
# RunConfig fields added after the first committed records, with their defaults (RunConfig.to_dict).
LATER_FIELDS: dict[str, Any] = {"precision": "fp32"}


@dataclass
class RunConfig:
    """Everything that determines a run. ``device`` and ``profile`` are labels, not part of the
    run's identity (see :func:`autoscale.experiments.store.config_hash`)."""

    benchmark: str = "multimnist"
    method: str = "unitary"
    method_options: dict[str, Any] = field(default_factory=dict)
    tasks: list[str] | None = None
    seed: int = 0
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: str = "none"
    scheduler_options: dict[str, Any] = field(default_factory=dict)
    max_grad_norm: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    metrics_every: int = 0
    gramian: str = "exact"
    eval_batch_size: int = 512
    # "bf16": forward pass and losses under bfloat16 autocast on CUDA (gradients, Gramians and the
    # optimiser stay float32). Part of a run's identity only when not "fp32" (config_hash).
    precision: str = "fp32"
    device: str = "cpu"
    profile: str = "custom"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; valid: {', '.join(PRECISIONS)}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; valid: {', '.join(SCHEDULERS)}")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.metrics_every < 0:
            raise ValueError(f"metrics_every must be >= 0 (0 = never), got {self.metrics_every}")
        parse_gramian_mode(self.gramian)  # lists the valid modes
        method_class(self.method)  # unknown names fail here, listing the valid ones

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict; fields added after records were committed are left out while at
        their default, so that older records keep their config (and hence their config hash)."""
        d = dataclasses.asdict(self)
        for name, default in LATER_FIELDS.items():
            if d[name] == default:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; valid keys: {sorted(known)}")
        return cls(**d)


class TrainingDiverged(RuntimeError):
    """A task loss or gradient became non-finite; the last checkpoint is kept."""


class CorruptCheckpoint(RuntimeError):
    """A checkpoint cannot be resumed from (unreadable, truncated, or of another config)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"checkpoint {path} cannot be resumed from: {reason}")
        self.path, self.reason = path, reason


class InvalidStepInputs(ValueError):
    """A step's losses or Gramian are non-finite or malformed (raised before the optimiser step)."""
