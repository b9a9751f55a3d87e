"""Restamp stale records by exact re-derivation: a behaviour-preserving change costs a sample, not
a retrain.

When the code a run executes changes (:mod:`autoscale.experiments.fingerprint`), its record is
stale. If the change should not alter numbers (a refactoring, a safer file format, a new method
beside the old ones), :func:`restamp` proves it on a stratified sample and restamps the rest:

1. the stale records are grouped into strata, benchmark x method family (``MethodInfo.family``, with
   AutoScale as a stratum of its own since it runs two methods);
2. from each stratum the cheapest record (by its training wall time) is re-derived here
   (:func:`autoscale.experiments.verify.rederive`) and compared with the stored record: every
   number, exactly;
3. only if every sampled record is identical, every stale record gets the current fingerprint
   (the record's numbers are untouched; the packed arrays are rewritten byte for byte) and a
   ``restamped`` field naming the commit and the fingerprint it had; the manifest lists the restamp:
   commit, date, the sampled records and the sample's size.

Exactness needs a CPU record re-derived on a CPU, so this restamps CPU records only. A record
trained on a GPU is restamped only by a GPU session that re-derives a sample within the stated
tolerance (:data:`autoscale.experiments.verify.CROSS_DEVICE_TOLERANCE`); here it stays stale.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autoscale.experiments import records
from autoscale.experiments.store import RunStore
from autoscale.experiments.verify import Verdict, verify_record
from autoscale.methods import method_info
from autoscale.training.device import git_commit


def stratum(record: dict) -> tuple[str, str]:
    """(benchmark, method family) of a record; AutoScale runs are a family of their own."""
    config = record["config"]
    method = config["method"]
    family = "autoscale" if method == "autoscale" else method_info(method).family
    return config["benchmark"], family


@dataclass
class RestampPlan:
    """The stale records of a profile: the CPU ones (restampable here), by stratum, and the rest."""

    profile: str
    strata: dict[tuple[str, str], list[Path]] = field(default_factory=dict)
    other_device: list[Path] = field(default_factory=list)

    @property
    def stale_cpu(self) -> list[Path]:
        return [p for paths in self.strata.values() for p in paths]

    def sample(self, store: RunStore) -> list[Path]:
        """The cheapest record of each stratum (by wall time; ties by file name)."""
        entries = store.manifest(self.profile)

        def cost(path: Path) -> tuple[float, str]:
            return (entries.get(f"{path.parent.name}/{path.name}", {}).get("wall_s") or math.inf, path.name)

        return [min(paths, key=cost) for _, paths in sorted(self.strata.items())]


def plan_restamp(store: RunStore, profile: str) -> RestampPlan:
    """Which records of ``profile`` are stale, grouped for :func:`restamp`."""
    plan = RestampPlan(profile)
    strata: dict[tuple[str, str], list[Path]] = defaultdict(list)
    manifest = store.manifest(profile)
    for path in store.record_paths(profile):
        record = store.read(path, manifest)
        if not records.is_stale(record):
            continue
        if records.device_kind(record) == "cpu":
            strata[stratum(record)].append(path)
        else:
            plan.other_device.append(path)
    plan.strata = dict(sorted(strata.items()))
    return plan


@dataclass
class RestampResult:
    verdicts: list[Verdict]
    restamped: list[Path]

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)


def restamp(
    store: RunStore,
    plan: RestampPlan,
    *,
    on_verdict: Callable[[Verdict], None] = lambda verdict: None,
    commit: str | None = None,
) -> RestampResult:
    """Re-derive the plan's sample; only if every one is identical, restamp all its stale CPU records."""
    sample = plan.sample(store)
    verdicts = []
    for path in sample:
        verdict = verify_record(store, path, "cpu")
        on_verdict(verdict)
        verdicts.append(verdict)
        if not verdict.ok:  # one difference refuses the restamp: no need to spend more time
            return RestampResult(verdicts, [])
    commit = commit or git_commit()
    restamped = [restamp_file(store, path, commit) for path in plan.stale_cpu]
    manifest_path = store.manifest_path(plan.profile)
    with records.locked(manifest_path):
        log = records.read_restamps(manifest_path)
        log.append(
            {
                "commit": commit,
                "date": records.now(),
                "restamped": len(restamped),
                "sample_size": len(sample),
                "sample": [f"{p.parent.name}/{p.name}" for p in sample],
                "strata": [f"{b} x {f}" for b, f in plan.strata],
            }
        )
        records.write_manifest(manifest_path, store.manifest(plan.profile), log)
    return RestampResult(verdicts, restamped)


def restamp_file(store: RunStore, path: Path, commit: str) -> Path:
    """Give the record at ``path`` its run's current fingerprint, its numbers untouched: the JSON is
    rewritten without unpacking the per-step arrays, so they stay byte for byte."""
    raw = json.loads(path.read_bytes())
    decoded = store.read(path)
    raw["restamped"] = {"commit": commit, "from": raw.get("fingerprint")}
    raw["fingerprint"] = records.run_fingerprint(decoded["config"])
    data = json.dumps(raw, separators=(",", ":"), allow_nan=True).encode() + b"\n"
    return store.save_encoded(path, {**decoded, **{k: raw[k] for k in ("restamped", "fingerprint")}}, data)
