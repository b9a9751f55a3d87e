"""The actions of ``python -m autoscale records`` (see :mod:`autoscale.commands.cli`).

The run store and the book's plan are imported at module level (they load torch); pandas, the
trainer and the re-derivation are imported by the actions that use them, so that ``records status``
of a complete store trains nothing and loads no trainer.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tarfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from autoscale.benchmarks import benchmark_names
from autoscale.commands.arguments import UsageError, check_device, download_command, engine_from
from autoscale.experiments import records
from autoscale.experiments.plans import (
    CANDIDATE_BENCHMARKS,
    CHAPTERS,
    book_benchmarks,
    book_configs,
    chapter_configs,
    chapter_searches,
)
from autoscale.experiments.ray_engine import RayEngine
from autoscale.experiments.record_status import default_profile, search_state, store_status
from autoscale.experiments.records import RecordProblem, now
from autoscale.experiments.store import RunStore, config_hash
from autoscale.training.config import RunConfig
from autoscale.training.files import atomic_write_bytes


def absent_real_data() -> list[str]:
    """The book's candidate benchmarks with profiles that are left out because their data is not here."""
    shown = book_benchmarks(require_data=False)
    return [b for b in CANDIDATE_BENCHMARKS if b not in shown]


def absent_line() -> str | None:
    """A line naming the real datasets the book leaves out here and how to add them (None if none)."""
    absent = absent_real_data()
    if not absent:
        return None
    commands = "; ".join(f"{b}: {download_command(b)}" for b in absent)
    return (
        f"left out of the book here, their data is not downloaded: {', '.join(absent)}. To add them, fetch "
        f"the data ({commands}), then 'records train' trains their runs."
    )


def status(store: RunStore, profile: str, strict: bool, fresh: bool = False) -> int:
    import pandas as pd

    report = store_status(profile, store)
    if not report.rows:
        print(f"no chapters read runs at {profile}")
        return 0
    table = pd.DataFrame(report.rows).set_index(["chapter", "benchmark"])
    print(f"Run records of profile {profile} in {store.root / profile}:")
    print(table.to_string())
    totals = table.sum()
    print(
        f"total (a run read by several chapters counts in each): {totals['present']} present, "
        f"{totals['missing']} missing, {totals['stale']} stale, {totals['corrupt']} corrupt; "
        f"{report.extra} record(s) no chapter reads"
    )
    if report.stale_commits:
        print(f"stale records were trained at commit(s) {', '.join(sorted(report.stale_commits))}")
    for problem in report.problems:
        print(f"corrupt: {problem}")
    if not report.complete:
        print(f"to train what is missing: python -m autoscale records train --profile {profile}")
    line = absent_line()
    if line:
        print(line)
    return 1 if (strict and not report.clean) or (fresh and not report.fresh) else 0


def train(store: RunStore, profile: str, device: str, workers: int | None, engine: RayEngine | None = None) -> int:
    """Train the book's missing runs chapter by chapter in the book's order, then its missing PBT
    searches, at ``profile`` (real datasets only where their data is here).

    Each chapter's runs are complete before the next chapter starts, so that an interrupted training
    leaves whole chapters to commit; a killed run resumes from its last epoch's checkpoint. Before
    each chapter it prints what is left of the book and the estimated time (from the wall times of
    the runs already in the store). Runs whose configs depend on earlier results (the random search's
    chosen weights) join the plan once those results are in, so each chapter is trained until its
    plan stops growing."""
    from autoscale.experiments.runs import default_workers, estimate_seconds, sweep

    workers = default_workers() if workers is None else workers
    for chapter in CHAPTERS:
        while missing := [c for c in chapter_configs(profile, device, store)[chapter] if store.load(c) is None]:
            check_device(device)
            print(left_line(store, profile, device, workers, estimate_seconds), flush=True)
            sweep(missing, store, desc=f"{chapter} [{profile}]", workers=workers, engine=engine)
    configs = book_configs(profile, device, store)
    print(f"all {len(configs)} runs of the book at {profile} are in {store.root / profile}")
    searches = [c for chapter in chapter_searches(profile, device).values() for c in chapter]
    missing = [c for c in searches if search_state(store, c) != "present"]
    if missing:
        from autoscale.experiments.pbt import run_pbt

        check_device(device)
        for number, search in enumerate(missing, 1):
            print(f"PBT search {number} of {len(missing)}: {search.benchmark}, seed {search.seed}", flush=True)
            run_pbt(search, store)
    print(f"all {len(searches)} PBT searches of the book at {profile} are in {store.root / profile}")
    line = absent_line()
    if line:
        print(line)
    return 0


def left_line(store: RunStore, profile: str, device: str, workers: int, estimate: Callable) -> str:
    """What is left of the book at ``profile``: missing runs per chapter (a run shared by chapters
    counts in the first) and the estimated time with ``workers``."""
    seen: set[str] = set()
    left: dict[str, list[RunConfig]] = {}
    for chapter, configs in chapter_configs(profile, device, store).items():
        fresh = [c for c in configs if config_hash(c) not in seen]
        seen.update(config_hash(c) for c in fresh)
        if missing := [c for c in fresh if store.load(c) is None]:
            left[chapter] = missing
    total = sum(len(m) for m in left.values())
    seconds = estimate([c for m in left.values() for c in m], store)
    wall = (seconds or 0.0) / max(1, workers)
    span = f"{wall / 3600:.1f} h" if wall >= 3600 else f"{wall / 60:.0f} min"
    when = f"about {span} with {workers} worker(s)" if seconds else "no estimate yet"
    chapters = ", ".join(f"{chapter} {len(m)}" for chapter, m in left.items())
    return f"left of the book at {profile}: {total} of {len(seen)} runs ({chapters}); {when}"


def verify(store: RunStore, args: argparse.Namespace) -> int:
    from autoscale.experiments.verify import describe, select, tolerance_note, verify_record

    seed = args.seed if args.seed is not None else random.randrange(10**6)
    paths = select(
        store,
        args.profile,
        sample=args.sample,
        cheapest=args.cheapest,
        benchmark=args.benchmark,
        method=args.method,
        max_seconds=args.max_seconds,
        seed=seed,
        cpu_kind=records.cpu_kind() if args.same_cpu_kind else None,
    )
    if not paths and args.same_cpu_kind:
        print(
            f"no committed {args.profile} record of this CPU's kind ({records.cpu_kind()}) matches the selection: "
            "nothing to re-derive exactly here (records of other kinds differ in rounding)"
        )
        return 0
    if not paths:
        print(f"error: no committed {args.profile} record matches the selection; see 'records status'", file=sys.stderr)
        return 1
    check_device(args.device)
    print(f"re-deriving {len(paths)} record(s) of {args.profile} on {args.device} (selection seed {seed})", flush=True)
    verdicts = []
    for path in paths:
        verdict = verify_record(store, path, args.device)
        print(("ok    " if verdict.ok else "FAILED ") + describe(verdict), flush=True)
        verdicts.append(verdict)
    print(tolerance_note(verdicts))
    failed = sum(not v.ok for v in verdicts)
    summary = f"{len(verdicts) - failed} of {len(verdicts)} record(s) re-derived"
    print(summary + (f"; {failed} FAILED" if failed else ""))
    return 1 if failed else 0


def restamp(store: RunStore, profile: str, dry_run: bool, baseline: str | None = None) -> int:
    """:func:`autoscale.experiments.restamp.restamp`, reported stratum by stratum."""
    import time

    from autoscale.experiments.restamp import NeedsBaseline, plan_restamp
    from autoscale.experiments.restamp import restamp as restamp_records
    from autoscale.experiments.verify import describe, tolerance_note

    plan = plan_restamp(store, profile)
    if plan.other_device:
        print(
            f"{len(plan.other_device)} stale record(s) trained on a GPU stay stale: a GPU session restamps them "
            "by re-deriving a sample within the cross-device tolerance"
        )
    if not plan.stale_cpu:
        print(f"no stale cpu record in {store.root / profile}")
        return 0
    sample = plan.sample(store)
    print(f"{len(plan.stale_cpu)} stale cpu record(s) in {len(plan.strata)} strata (benchmark x method family):")
    for (benchmark, family), paths in plan.strata.items():
        print(f"  {benchmark} x {family}: {len(paths)}")
    print(f"re-deriving the cheapest of each stratum: {len(sample)} record(s)", flush=True)
    if dry_run:
        print("\n".join(f"  {p.parent.name}/{p.name}" for p in sample))
        return 0
    started = time.perf_counter()
    try:
        result = restamp_records(
            store,
            plan,
            baseline=baseline,
            on_verdict=lambda v: print(("ok    " if v.ok else "FAILED ") + describe(v), flush=True),
        )
    except NeedsBaseline as err:
        raise UsageError(str(err)) from None
    print(tolerance_note(result.verdicts))
    if not result.ok:
        print(
            "error: a re-derived record differs, so the change alters numbers: nothing was restamped; "
            f"retrain instead (python -m autoscale records train --profile {profile})",
            file=sys.stderr,
        )
        return 1
    minutes = (time.perf_counter() - started) / 60
    print(f"restamped {len(result.restamped)} record(s) after {len(sample)} exact re-derivations ({minutes:.1f} min)")
    return 0


def clear(store: RunStore, profile: str) -> int:
    folder = store.root / profile
    if not folder.is_dir():
        print(f"nothing to clear: {folder} does not exist")
        return 0
    target = store.root / "replaced" / f"{profile}-{now()}"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(folder, target)
    print(f"moved the {profile} records to {target}; the next build retrains them")
    return 0


def import_session(store: RunStore, folder: Path) -> int:
    """Add the records of a GPU session's tarballs (``records-<profile>-<benchmark>.tar.gz``) to the
    store: each file is checked (it decodes and holds the run its name says) before it is saved, and
    the profiles' manifests are updated. Records already present are replaced by the imported ones.
    The session's summary (``session.json``) is kept as ``<profile>/gpu_sessions/<date>-<n>.json``."""
    tarballs = sorted(folder.glob("records-*.tar.gz"))
    if not tarballs:
        print(f"error: no records-*.tar.gz in {folder}; pass the folder the GPU session wrote", file=sys.stderr)
        return 1
    imported: dict[str, int] = {}
    for tarball in tarballs:
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if len(parts) == 3 and parts[1] not in benchmark_names():
                    continue  # an older session packed its profile's side folders (gpu_sessions/) too
                if not member.isfile() or len(parts) != 3 or ".." in parts or not member.name.endswith(".json"):
                    print(
                        f"error: {tarball.name} holds {member.name!r}, not <profile>/<benchmark>/<hash>.json",
                        file=sys.stderr,
                    )
                    return 1
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                target = store.root / member.name
                try:
                    record = store._checked(target, data, None)
                except RecordProblem as err:
                    print(f"error: {tarball.name}: {err}", file=sys.stderr)
                    return 1
                store.save_encoded(target, record, data)
                imported[parts[0]] = imported.get(parts[0], 0) + 1
    for profile, count in sorted(imported.items()):
        print(f"imported {count} record(s) into {store.root / profile} (manifest updated)")
    summary = folder / "session.json"
    if summary.is_file():
        print(f"session summary saved as {keep_session_summary(store, summary)}")
    return 0


def keep_session_summary(store: RunStore, summary: Path) -> Path:
    """Save a GPU session's ``session.json`` beside its profile's records, as
    ``gpu_sessions/<today>-<n>.json`` (the runtime chapter's table of sessions reads them); a summary
    already kept there is not kept twice."""
    data = summary.read_bytes()
    profile = "smoke" if json.loads(data).get("tiny") else "full"
    directory = store.root / profile / "gpu_sessions"
    directory.mkdir(parents=True, exist_ok=True)
    for kept in sorted(directory.glob("*.json")):
        if kept.read_bytes() == data:
            return kept
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    number = 1 + sum(1 for _ in directory.glob(f"{day}-*.json"))
    target = directory / f"{day}-{number}.json"
    atomic_write_bytes(target, data)
    return target


def records_command(args: argparse.Namespace) -> int:
    store = RunStore(args.results_root)
    if args.action == "import":
        return import_session(store, Path(args.folder))
    if args.action == "default-profile":
        print(default_profile(store))
        return 0
    if args.action == "status":
        return status(store, args.profile, args.strict, args.fresh)
    if args.action == "train":
        return train(store, args.profile, args.device, args.workers, engine_from(args))
    if args.action == "verify":
        return verify(store, args)
    if args.action == "restamp":
        return restamp(store, args.profile, args.dry_run, args.baseline)
    if args.action == "rebuild-manifest":
        entries = store.rebuild_manifest(args.profile)
        print(f"{store.manifest_path(args.profile)}: {len(entries)} record(s)")
        return 0
    return clear(store, args.profile)
