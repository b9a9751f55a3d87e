"""Train run configs into the run store: one run (:func:`run`) or one stack of runs (:func:`run_stack`).

Both resume from the store's checkpoint of an interrupted attempt, and start over (with a warning)
from a checkpoint that cannot be resumed from. The engines that spread many runs over workers
(:mod:`autoscale.experiments.runs`, :mod:`autoscale.experiments.ray_engine`) call these.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from autoscale.experiments.store import RunStore, config_hash, describe_run, warn_record
from autoscale.training.config import CorruptCheckpoint, RunConfig
from autoscale.training.stacked import StackedTrainer
from autoscale.training.trainer import Trainer

T = TypeVar("T")


def _resume_or_restart(store: RunStore, checkpoint: Path, what: str, train: Callable[[], T]) -> tuple[T, float]:
    """``train()`` (which resumes from ``checkpoint``) and its wall seconds; a checkpoint that
    cannot be resumed from is moved aside with a warning and ``what`` is trained from the start."""
    started = time.perf_counter()
    try:
        result = train()
    except CorruptCheckpoint as err:
        moved = store.quarantine_checkpoint(checkpoint)
        warn_record(f"{err}. It was moved to {moved}; training {what} from the start.")
        started = time.perf_counter()
        result = train()
    return result, time.perf_counter() - started


def run(config: RunConfig, store: RunStore | None = None, force: bool = False, progress: bool = True) -> dict:
    """The record of ``config``: from the store if present (unless ``force``), else trained now.

    Training resumes from the store's checkpoint of this config if an earlier attempt was
    interrupted; a checkpoint that cannot be resumed from is moved aside (with a
    :class:`RecordWarning`) and the run starts over. The returned record is the stored one (per-step
    arrays in float32), so a fresh run and a stored run give the same numbers.
    """
    store = store or RunStore()
    if not force:
        record = store.load(config)
        if record is not None:
            return record
    checkpoint = store.checkpoint_path(config)
    if force:
        checkpoint.unlink(missing_ok=True)
    record, seconds = _resume_or_restart(
        store, checkpoint, describe_run(config), lambda: Trainer(config, checkpoint, progress).run()
    )
    path = store.save(record, wall_seconds=seconds)
    checkpoint.unlink(missing_ok=True)
    return store.read(path)


def run_stack(
    configs: Sequence[RunConfig],
    store: RunStore | None = None,
    progress: bool = True,
    deadline: float | None = None,
    force: bool = False,
) -> list[dict | None]:
    """Train ``configs`` as one stack (:class:`autoscale.training.stacked.StackedTrainer`) and save each record;
    each gets the stack's wall time divided by its size. With ``deadline`` (a ``time.time()``
    value) training stops after the first epoch that ends past it: nothing is saved, the stack's
    checkpoint is kept and a later call resumes it; the result is then a list of ``None``.
    ``force`` starts from scratch even if an interrupted attempt left a checkpoint."""
    store = store or RunStore()
    hashes = sorted(config_hash(c) for c in configs)
    checkpoint = store.root / "checkpoints" / f"stack-{hashlib.sha1(''.join(hashes).encode()).hexdigest()[:16]}.pt"
    if force:
        checkpoint.unlink(missing_ok=True)
    records, seconds = _resume_or_restart(
        store,
        checkpoint,
        f"the stack of {len(configs)} runs",
        lambda: StackedTrainer(list(configs), checkpoint, progress).run(deadline=deadline),
    )
    if not all(r["complete"] for r in records):
        return [None] * len(configs)
    share = seconds / len(configs)
    paths = [store.save(record, wall_seconds=share) for record in records]
    checkpoint.unlink(missing_ok=True)
    return [store.read(path) for path in paths]
