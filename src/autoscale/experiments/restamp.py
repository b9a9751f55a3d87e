"""Restamp stale records by exact re-derivation: a behaviour-preserving change costs a sample, not
a retrain.

When the code a run executes changes (:mod:`autoscale.experiments.fingerprint`), its record is
stale. If the change should not alter numbers (a refactoring, a safer file format, a new method
beside the old ones), :func:`restamp` proves it on a stratified sample and restamps the rest:

1. the stale records are grouped into strata, benchmark x method family (``MethodInfo.family``, with
   AutoScale as a stratum of its own since it runs two methods);
2. from each stratum the cheapest record (by its training wall time), preferring records of this
   CPU's kind, is re-derived here
   (:func:`autoscale.experiments.verify.rederive`) and compared with the stored record: every
   number, exactly;
3. only if every sampled record is identical, every stale record gets the current fingerprint
   (the record's numbers are untouched; the packed arrays are rewritten byte for byte) and a
   ``restamped`` field naming the commit and the fingerprint it had; the manifest lists the restamp:
   commit, date, the sampled records and the sample's size.

Exactness needs a CPU record re-derived on a CPU of the kind that trained it
(:func:`autoscale.experiments.records.cpu_kind`), so this restamps CPU records only. A sampled record
from another kind of CPU (or one whose kind was not recorded) cannot be re-derived exactly here, by
any code; for it the proof is differential: with ``baseline`` (a commit whose code gives the record's
stored fingerprint, i.e. the code that trained it) the run is retrained here by the baseline's code
(a git worktree, in a subprocess) and by the current code, and the two must be identical in every
number. A record trained on a GPU is restamped only by a GPU session that re-derives a sample within
the stated tolerance (:data:`autoscale.experiments.verify.CROSS_DEVICE_TOLERANCE`); here it stays stale.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autoscale.experiments import records
from autoscale.experiments.store import RunStore
from autoscale.experiments.verify import Verdict, differences, rederive, verify_record
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
        """One record of each stratum: the cheapest (by wall time; ties by file name) of those this
        CPU re-derives exactly, else the cheapest. A record of this CPU's kind is compared with its
        stored numbers directly, in one training; one of another kind needs two (the baseline's
        code and the current code, here)."""
        entries = store.manifest(self.profile)
        here = records.cpu_kind()

        def cost(path: Path) -> tuple[bool, float, str]:
            entry = entries.get(f"{path.parent.name}/{path.name}", {})
            return (entry.get("cpu_kind") != here, entry.get("wall_s") or math.inf, path.name)

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


class NeedsBaseline(ValueError):
    """A sampled record cannot be re-derived exactly on this CPU and no baseline commit was given."""


def restamp(
    store: RunStore,
    plan: RestampPlan,
    *,
    on_verdict: Callable[[Verdict], None] = lambda verdict: None,
    commit: str | None = None,
    baseline: str | None = None,
) -> RestampResult:
    """Re-derive the plan's sample; only if every one is identical, restamp all its stale CPU records
    (the module docstring says how a record of another CPU kind is re-derived: ``baseline``)."""
    sample = plan.sample(store)
    foreign = [p for p in sample if not records.rederives_exactly_here(store.read(p))]
    if foreign and baseline is None:
        raise NeedsBaseline(
            f"{len(foreign)} sampled record(s) were trained on another kind of CPU than this one "
            f"({records.cpu_kind()}) or before CPU kinds were recorded, and cannot be re-derived exactly here; "
            "pass the commit whose code trained them as the baseline (records restamp --baseline COMMIT) "
            "to compare that code's and this code's runs here, or retrain"
        )
    verdicts = []
    for path in sample:
        verdict = verify_record(store, path, "cpu") if path not in foreign else differential(store, path, baseline)
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
                "baseline": baseline if foreign else None,
                "cpu_kind": records.cpu_kind(),
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
    raw["fingerprint"] = records.record_fingerprint(decoded)
    data = json.dumps(raw, separators=(",", ":"), allow_nan=True).encode() + b"\n"
    return store.save_encoded(path, {**decoded, **{k: raw[k] for k in ("restamped", "fingerprint")}}, data)


# Run in the baseline's worktree: its own rederive(), and the fingerprint its code gives the run.
_BASELINE_SCRIPT = """
import json, sys
from autoscale.experiments import fingerprint
from autoscale.experiments.verify import rederive
record = json.loads(sys.stdin.read())
if hasattr(fingerprint, "record_fingerprint"):
    code = fingerprint.record_fingerprint(record)
elif hasattr(fingerprint, "run_fingerprint"):  # before stacked runs had a fingerprint of their own
    code = fingerprint.run_fingerprint(record["config"])
else:  # before per-run fingerprints: one fingerprint of all the code
    code = fingerprint.code_fingerprint()
fresh = rederive(record)
sys.stdout.write(json.dumps({"fingerprint": code, "record": fresh}, allow_nan=True))
"""


def rederive_at(commit: str, record: dict) -> tuple[str, dict]:
    """The fingerprint the code of ``commit`` gives ``record``'s run, and the run retrained here by
    that code (a detached git worktree of the commit, imported in a subprocess)."""
    package_root = Path(__file__).resolve().parents[3]
    with tempfile.TemporaryDirectory(prefix="autoscale-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(tree), commit],
            cwd=package_root,
            check=True,
            capture_output=True,
        )
        try:
            env = {**os.environ, "PYTHONPATH": str(tree / "src")}
            done = subprocess.run(
                [sys.executable, "-c", _BASELINE_SCRIPT],
                input=json.dumps(record, allow_nan=True),
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp,
            )
            if done.returncode != 0:
                raise RuntimeError(f"the baseline {commit} could not re-derive the run: {done.stderr.strip()[-2000:]}")
            answer = json.loads(done.stdout)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=package_root, capture_output=True)
    return answer["fingerprint"], answer["record"]


def differential(store: RunStore, path: Path, baseline: str) -> Verdict:
    """Retrain the run of the record at ``path`` here by the ``baseline`` code and by the current
    code; the verdict lists every number in which the two differ (exact comparison). The baseline
    must be the code that trained the record: its fingerprint of the run equals the stored one."""
    stored = store.read(path)
    started = time.perf_counter()
    code, base = rederive_at(baseline, stored)
    if code != stored.get("fingerprint"):
        problem = (
            f"the baseline {baseline} gives this run the fingerprint {code}, not the stored "
            f"{stored.get('fingerprint')}: it is not the code that trained the record"
        )
        return Verdict(path, stored, time.perf_counter() - started, True, [problem])
    fresh = rederive(stored)
    found = list(differences(base, fresh))
    return Verdict(path, stored, time.perf_counter() - started, True, found, f"the baseline {baseline}'s run here")
