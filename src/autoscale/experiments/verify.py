"""Re-derive committed run records on this machine and compare every stored number.

A record is re-trained from its config (same seed, same thread count) in a temporary run store,
and the fresh record is compared with the stored one, key by key: configuration, per-epoch
training losses and validation metrics, final test metrics, per-step losses and weights, MTO
metric trajectories and the method's record (AutoScale's window weights). Only provenance and
wall-clock timings are left out (:data:`NOT_COMPARED`).

- A CPU record re-derived on a CPU of its own kind (:func:`autoscale.experiments.records.cpu_kind`:
  vendor and instruction set) must match *exactly*: CPU training is deterministic given the seed,
  the thread count and the kind of CPU.
- A record from another kind of device or CPU (or from a GPU, whose kernels are not bitwise
  deterministic) is compared with :data:`CROSS_DEVICE_TOLERANCE`: the first step's losses (same
  initialisation and batch, so only rounding differs) and the final validation and test metrics,
  whose difference grows with training.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from autoscale.experiments import records
from autoscale.experiments.runs import run
from autoscale.experiments.store import RunStore, describe_run
from autoscale.training.config import RunConfig

NOT_COMPARED = frozenset(
    {
        "git_commit",
        "device",
        "torch_version",
        "python_version",
        "finished_at",
        "train_seconds",
        "median_step_time_s",
        "wall_seconds",
        "fingerprint",
        "restamped",
        "threads",
        "cpu_kind",
        "steps.time_s",
    }
)
# rtol of the cross-device comparison, per compared part of the record.
CROSS_DEVICE_TOLERANCE = {"first step losses": 1e-3, "final val/test metrics": 5e-2}


def differences(stored: Any, fresh: Any, where: str = "", rtol: float = 0.0) -> Iterator[str]:
    """Where ``fresh`` differs from ``stored`` (numbers within ``rtol``; NaN equals NaN)."""
    if where.lstrip(".") in NOT_COMPARED:
        return
    if isinstance(stored, dict) and isinstance(fresh, dict):
        for key in sorted(set(stored) | set(fresh)):
            path = f"{where}.{key}" if where else key
            if path in NOT_COMPARED:
                continue
            if key not in stored or key not in fresh:
                yield f"{path}: only in the {'stored' if key in stored else 'fresh'} record"
            else:
                yield from differences(stored[key], fresh[key], path, rtol)
    elif isinstance(stored, list) and isinstance(fresh, list):
        if len(stored) != len(fresh):
            yield f"{where}: {len(stored)} stored values, {len(fresh)} fresh"
            return
        for i, (a, b) in enumerate(zip(stored, fresh, strict=True)):
            first = next(differences(a, b, f"{where}[{i}]", rtol), None)
            if first is not None:
                yield first  # the first differing element of a list is enough to locate it
                return
    elif _number(stored) and _number(fresh):
        if not _close(float(stored), float(fresh), rtol):
            yield f"{where}: stored {stored!r}, fresh {fresh!r}"
    elif stored != fresh:
        yield f"{where}: stored {stored!r}, fresh {fresh!r}"


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _close(a: float, b: float, rtol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= rtol * max(abs(a), abs(b))


def cross_device_differences(stored: dict, fresh: dict) -> list[str]:
    """The comparison of records from different kinds of devices (module docstring)."""
    first, final = CROSS_DEVICE_TOLERANCE["first step losses"], CROSS_DEVICE_TOLERANCE["final val/test metrics"]
    out = list(differences(stored["steps"]["loss"][0], fresh["steps"]["loss"][0], "steps.loss[0]", first))
    for split in ("val", "test"):
        out += differences(stored["final"][split], fresh["final"][split], f"final.{split}", final)
    return out


@dataclass
class Verdict:
    path: Path
    record: dict
    seconds: float
    exact: bool
    differences: list[str]
    # What the fresh record was compared with: the stored record, or (a differential restamp) the
    # same run retrained here by the code that trained the stored record.
    against: str = "the stored record"

    @property
    def ok(self) -> bool:
        return not self.differences


def rederive(record: dict, device: str = "cpu") -> dict:
    """The record retrained here from ``record``'s config, in a temporary store, with the thread
    count it was trained with (CPU kernels may round differently with another count)."""
    config = RunConfig.from_dict({**record["config"], "device": device})
    threads = torch.get_num_threads()
    torch.set_num_threads(int(record.get("threads") or threads))
    try:
        with tempfile.TemporaryDirectory(prefix="autoscale-verify-") as tmp:
            return run(config, RunStore(tmp), progress=False)
    finally:
        torch.set_num_threads(threads)


def verify_record(store: RunStore, path: Path, device: str = "cpu") -> Verdict:
    """Re-derive the record at ``path`` on ``device`` and compare (exactly for CPU on CPU)."""
    stored = store.read(path)
    started = time.perf_counter()
    fresh = rederive(stored, device)
    seconds = time.perf_counter() - started
    exact = records.rederives_exactly_here(stored) and device == "cpu"
    found = list(differences(stored, fresh)) if exact else cross_device_differences(stored, fresh)
    return Verdict(path, stored, seconds, exact, found)


def select(
    store: RunStore,
    profile: str,
    *,
    sample: int = 0,
    cheapest: int = 0,
    benchmark: str | None = None,
    method: str | None = None,
    max_seconds: float | None = None,
    seed: int = 0,
    cpu_kind: str | None = None,
) -> list[Path]:
    """Record paths to verify: the ``cheapest`` by wall time, then ``sample`` more at random
    (seeded), among the records of ``profile`` that match the filters (``cpu_kind``: records trained
    on that kind of CPU, :func:`autoscale.experiments.records.cpu_kind`)."""
    entries = store.manifest(profile)
    candidates = [
        (entry.get("wall_s") or math.inf, store.root / profile / key)
        for key, entry in sorted(entries.items())
        if (benchmark is None or entry["benchmark"] == benchmark)
        and (method is None or entry["method"] == method)
        and (max_seconds is None or (entry.get("wall_s") or math.inf) <= max_seconds)
        and (cpu_kind is None or entry.get("cpu_kind") == cpu_kind)
    ]
    chosen = [path for _, path in sorted(candidates, key=lambda c: (c[0], c[1].name))[:cheapest]]
    rest = [path for _, path in candidates if path not in chosen]
    chosen += random.Random(seed).sample(rest, min(sample, len(rest)))
    return chosen


def describe(verdict: Verdict) -> str:
    what = describe_run(RunConfig.from_dict(verdict.record["config"]))
    record = verdict.record
    kind = f" ({record.get('cpu_kind') or 'CPU kind not recorded'})" if records.device_kind(record) == "cpu" else ""
    trained = f"trained on {record.get('device')}{kind} at {record.get('git_commit')}"
    if verdict.ok:
        how = (
            f"identical to {verdict.against} (exact comparison)"
            if verdict.exact
            else "within the cross-device tolerance"
        )
    else:
        how = f"{len(verdict.differences)} difference(s): " + "; ".join(verdict.differences[:5])
    return f"{verdict.path.name} ({what}; {trained}): re-derived in {verdict.seconds:.0f} s: {how}"


def tolerance_note(verdicts: Sequence[Verdict]) -> str:
    parts = []
    stored = [v for v in verdicts if v.exact and v.against == Verdict.against]
    if stored:
        parts.append(f"CPU records of this CPU's kind ({records.cpu_kind()}): every stored number compared exactly")
    if any(v.exact and v.against != Verdict.against for v in verdicts):
        parts.append(
            f"records of another CPU kind: retrained here ({records.cpu_kind()}) by the code that trained them "
            "and by this code, every number compared exactly"
        )
    if any(not v.exact for v in verdicts):
        tol = ", ".join(f"{k} at rtol {v:g}" for k, v in CROSS_DEVICE_TOLERANCE.items())
        parts.append(f"records from another kind of device or CPU: {tol}")
    parts.append(f"not compared: {', '.join(sorted(NOT_COMPARED))}")
    return "; ".join(parts)
