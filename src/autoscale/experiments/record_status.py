"""What the run store holds for the book: per chapter and benchmark, the runs present, missing,
stale (trained by other code, :func:`autoscale.experiments.records.is_stale`) and corrupt, and its PBT
searches present, missing and corrupt; and the profile
the book is built at by default."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from autoscale.experiments import records
from autoscale.experiments.pbt import parse_result, result_path
from autoscale.experiments.plans import PBTConfig, chapter_configs, chapter_searches
from autoscale.experiments.store import RunStore, config_hash
from autoscale.training.config import RunConfig

# Strongest first: the book's default is the first whose records are complete for every chapter.
PROFILE_STRENGTH = ("full", "cpu-long", "cpu")
FALLBACK_PROFILE = "cpu"
STATES = ("present", "missing", "stale", "corrupt")


@dataclass
class RecordState:
    """The state of one run in the store: ``present``, ``missing``, ``stale`` or ``corrupt``."""

    state: str
    commit: str | None = None
    problem: str | None = None


@dataclass
class StoreStatus:
    """Per chapter and benchmark, how many runs are in each state; the commits of stale records."""

    profile: str
    rows: list[dict] = field(default_factory=list)
    stale_commits: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    extra: int = 0

    @property
    def complete(self) -> bool:
        """Nothing missing or corrupt (stale records still count: the book shows them)."""
        return all(row["missing"] == 0 and row["corrupt"] == 0 for row in self.rows)

    @property
    def fresh(self) -> bool:
        """Nothing stale or corrupt; runs may be missing (a profile trained chapter by chapter)."""
        return not self.problems and all(row["stale"] == 0 and row["corrupt"] == 0 for row in self.rows)

    @property
    def clean(self) -> bool:
        """Complete and nothing stale."""
        return self.complete and self.fresh


def run_state(store: RunStore, config: RunConfig, manifest: dict[str, dict]) -> RecordState:
    """The state of ``config``'s record, read-only (a damaged file is reported, not moved)."""
    path = store.path(config)
    if not path.is_file():
        return RecordState("missing")
    try:
        record = store.read(path, manifest)
    except records.RecordProblem as err:
        return RecordState("corrupt", problem=str(err))
    commit = record.get("git_commit")
    return RecordState("stale" if records.is_stale(record) else "present", commit)


def search_state(store: RunStore, search: PBTConfig) -> str:
    """``present``, ``missing`` or ``corrupt`` (unreadable, or not the file the manifest lists): a
    PBT search's result file, read-only."""
    path = result_path(store, search)
    if not path.is_file():
        return "missing"
    data = path.read_bytes()
    listed = store.search_sha256(path)
    if listed is not None and hashlib.sha256(data).hexdigest() != listed:
        return "corrupt"  # edited or replaced since the search wrote it
    try:
        parse_result(data)
    except ValueError:
        return "corrupt"
    return "present"


def store_status(profile: str, store: RunStore | None = None) -> StoreStatus:
    """:class:`StoreStatus` of ``profile`` against the book's plan (:mod:`autoscale.chapters`)."""
    store = store or RunStore()
    try:
        manifest = records.read_manifest(store.manifest_path(profile))
    except records.RecordProblem as err:
        manifest = {}
        damaged = [str(err)]
    else:
        damaged = []
    status = StoreStatus(profile, problems=damaged)
    states: dict[str, RecordState] = {}
    chapters = chapter_configs(profile, store=store)
    for chapter, configs in chapters.items():
        by_benchmark: dict[str, dict[str, int]] = {}
        for config in configs:
            key = config_hash(config)
            if key not in states:
                states[key] = run_state(store, config, manifest)
            state = states[key]
            counts = by_benchmark.setdefault(config.benchmark, dict.fromkeys(STATES, 0))
            counts[state.state] += 1
            if state.state == "stale" and state.commit:
                status.stale_commits.add(state.commit)
            if state.problem and state.problem not in status.problems:
                status.problems.append(state.problem)
        status.rows += [{"chapter": chapter, "benchmark": b, **c} for b, c in by_benchmark.items()]
    for chapter, searches in chapter_searches(profile).items():
        by_benchmark = {}
        for search in searches:
            counts = by_benchmark.setdefault(search.benchmark, dict.fromkeys(STATES, 0))
            counts[search_state(store, search)] += 1
        status.rows += [{"chapter": f"{chapter} (PBT)", "benchmark": b, **c} for b, c in by_benchmark.items()]
    planned = {str(store.path(c)) for configs in chapters.values() for c in configs}
    status.extra = sum(os.fspath(p) not in planned for p in store.record_paths(profile))
    return status


def default_profile(store: RunStore | None = None) -> str:
    """The strongest profile whose records are complete for every chapter (else ``cpu``)."""
    store = store or RunStore()
    for profile in PROFILE_STRENGTH:
        if Path(store.root / profile).is_dir() and store_status(profile, store).complete:
            return profile
    return FALLBACK_PROFILE
