"""Profiles, config hashing, the run store and sweeps (DESIGN.md §5).

- A *profile* (``smoke``, ``cpu``, ``full``) fixes data sizes, epochs and schedule per benchmark:
  ``smoke`` runs in seconds for nbval, ``cpu`` gives meaningful results on a 2-core CPU, ``full``
  is the book's headline configuration on a GPU.
- A run is identified by the hash of its config (minus the labels ``device`` and ``profile``)
  and the package version; its record is one JSON file in the run store, written atomically, so
  an interrupted sweep resumes without redoing or losing finished runs. Records of ``cpu`` and
  ``full`` are committed data with a manifest per profile (:mod:`autoscale.records`); damaged
  records and checkpoints are moved aside and retrained.
"""

from __future__ import annotations

import copy
import hashlib
import json
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from scipy.stats import qmc
from tqdm import tqdm

import autoscale
from autoscale import records as record_files
from autoscale.datasets import DATASETS
from autoscale.files import atomic_write_bytes
from autoscale.paths import results_root
from autoscale.stacked import StackedTrainer, stack_groups
from autoscale.train import CorruptCheckpoint, RunConfig, Trainer

PROFILES = ("smoke", "cpu", "full", "gpuday")
T = TypeVar("T")
DEVICES = ("cpu", "cuda")

# Per benchmark and profile: the RunConfig fields that differ from RunConfig's defaults.
PROFILE_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "multimnist": {
        "smoke": {
            "epochs": 1,
            "batch_size": 64,
            "metrics_every": 4,
            "data": {"sizes": {"train": 512, "val": 256, "test": 256}},
        },
        "cpu": {
            "epochs": 10,
            "batch_size": 128,
            "metrics_every": 20,
            "data": {"sizes": {"train": 10_000, "val": 2_000, "test": 5_000}},
        },
        "full": {
            "epochs": 30,
            "batch_size": 256,
            "metrics_every": 25,
            "scheduler": "step",
            "scheduler_options": {"step_size": 10, "gamma": 0.5},
            "data": {"sizes": {"train": None, "val": None, "test": None}},
        },
    },
}
PROFILE_SETTINGS["multifashion"] = copy.deepcopy(PROFILE_SETTINGS["multimnist"])
# The GPU profiles: ``full`` is sized so that one lent GPU session (15 minutes) trains its first
# tiers (autoscale.gpu_session) and AutoScale's exploration holds >= 20 windows of tau = 50
# (alpha T >= 1000 steps); ``gpuday`` is the heavy setting (ResNet-18 at 128x160) for a GPU-day.
PROFILE_SETTINGS["multimnist"]["gpuday"] = copy.deepcopy(PROFILE_SETTINGS["multimnist"]["full"])
# Procedural scenes: image size and split sizes come from the data profile (SCENE_SIZES in
# autoscale.datasets.scene_datasets); the small CNN at cpu and full (64x80, 250 steps per epoch,
# 5000 steps), a dilated ResNet-18 at gpuday.
for _kind in ("scenes-street", "scenes-indoor"):
    PROFILE_SETTINGS[_kind] = {
        "smoke": {
            "epochs": 1,
            "batch_size": 8,
            "metrics_every": 2,
            "data": {"profile": "smoke"},
            "model": {"arch": "small"},
        },
        "cpu": {
            "epochs": 8,
            "batch_size": 32,
            "lr": 2e-3,
            "metrics_every": 20,
            "data": {"profile": "cpu"},
            "model": {"arch": "small"},
        },
        "full": {
            "epochs": 20,
            "batch_size": 16,
            "lr": 1e-3,
            "metrics_every": 25,
            "data": {"profile": "full"},
            "model": {"arch": "small"},
            "scheduler": "step",
            "scheduler_options": {"step_size": 10, "gamma": 0.5},
        },
        "gpuday": {
            "epochs": 20,
            "batch_size": 16,
            "lr": 1e-4,
            "metrics_every": 25,
            "data": {"profile": "gpuday"},
            "model": {"arch": "resnet18"},
            "scheduler": "step",
            "scheduler_options": {"step_size": 10, "gamma": 0.5},
        },
    }

# Seeds and number of fixed weight sets of a linear-scalarization sweep, per profile. At cpu the
# dense benchmarks get one seed so that the whole book builds within an hour on 2 cores.
PROFILE_SEEDS: dict[str, list[int]] = {"smoke": [0], "cpu": [0, 1], "full": [0, 1, 2], "gpuday": [0, 1, 2]}
DENSE_CPU_SEEDS = [0]
LS_SWEEP_SIZE: dict[str, int] = {"smoke": 3, "cpu": 9, "full": 19, "gpuday": 19}


def profile_seeds(benchmark: str, profile: str) -> list[int]:
    """Seeds of a sweep of ``benchmark`` at ``profile``."""
    check_profile(profile)
    if profile == "cpu" and benchmark.startswith("scenes-"):
        return list(DENSE_CPU_SEEDS)
    return list(PROFILE_SEEDS[profile])


def benchmarks() -> list[str]:
    """Benchmarks that have profiles."""
    return sorted(PROFILE_SETTINGS)


def check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")


def profile_config(benchmark: str, profile: str, **overrides: Any) -> RunConfig:
    """The RunConfig of ``benchmark`` at ``profile``, with ``overrides`` applied on top."""
    check_profile(profile)
    if benchmark not in PROFILE_SETTINGS:
        raise ValueError(f"no profiles for benchmark {benchmark!r}; benchmarks with profiles: {benchmarks()}")
    fields = copy.deepcopy(PROFILE_SETTINGS[benchmark][profile])
    fields.update(copy.deepcopy(overrides))
    return RunConfig(benchmark=benchmark, profile=profile, **fields)


def config_hash(config: RunConfig) -> str:
    """Identity of a run: the config without its labels (device, profile) and the package version."""
    identity = config.to_dict()
    identity.pop("device")
    identity.pop("profile")
    payload = json.dumps({"config": identity, "version": autoscale.__version__}, sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()[:16]


def unique_configs(configs: Iterable[RunConfig]) -> list[RunConfig]:
    """``configs`` without repeats (the same run, by :func:`config_hash`), first occurrence kept."""
    seen: dict[str, RunConfig] = {}
    for config in configs:
        seen.setdefault(config_hash(config), config)
    return list(seen.values())


class RecordWarning(UserWarning):
    """A record or checkpoint was damaged and has been moved aside (the message says where)."""


class RunStore:
    """One record per run under ``<root>/<profile>/<benchmark>/<hash>.json`` and a manifest per
    profile (:mod:`autoscale.records`: compact encoding, fingerprint, sha256).

    Records of the ``cpu`` and ``full`` profiles are committed data. A damaged record (truncated,
    not JSON, a merge-conflict marker, a sha256 that does not match the manifest) is moved to
    ``<root>/<profile>/corrupt/`` with a :class:`RecordWarning` that names it, and the run is
    retrained; a damaged manifest is moved there too and rebuilt from the records. Checkpoints of
    unfinished runs live in ``<root>/checkpoints/`` (never committed) and are removed once the
    record is written.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = results_root(root)

    def path(self, config: RunConfig) -> Path:
        return self.root / config.profile / config.benchmark / f"{config_hash(config)}.json"

    def checkpoint_path(self, config: RunConfig) -> Path:
        return self.root / "checkpoints" / f"{config_hash(config)}.pt"

    def manifest_path(self, profile: str) -> Path:
        return self.root / profile / record_files.MANIFEST

    def record_paths(self, profile: str) -> list[Path]:
        """Every record file of ``profile`` (damaged ones included): the JSON files in folders
        named after a benchmark (not, e.g., the step-time benchmark files under ``bench/``)."""
        benchmark_folders = set(DATASETS.names())
        folder = self.root / profile
        return sorted(p for p in folder.glob("*/*.json") if p.parent.name in benchmark_folders)

    def manifest(self, profile: str) -> dict[str, dict]:
        """The profile's manifest entries; a damaged manifest is moved aside and rebuilt."""
        path = self.manifest_path(profile)
        try:
            return record_files.read_manifest(path)
        except record_files.RecordProblem:
            with record_files.locked(path):
                return self._entries(profile)

    def _entries(self, profile: str) -> dict[str, dict]:
        """The manifest's entries, with the manifest lock held: rebuilt if damaged."""
        path = self.manifest_path(profile)
        try:
            return record_files.read_manifest(path)
        except record_files.RecordProblem as err:
            moved = self._move_aside(path)
            _warn(f"{err.problem}: moved to {moved}; rebuilt from the records of {path.parent}")
            return self.rebuild_manifest(profile)

    def _key(self, path: Path) -> str:
        return f"{path.parent.name}/{path.name}"

    def read(self, path: Path, manifest: Mapping[str, dict] | None = None) -> dict:
        """The record at ``path``, checked (:class:`autoscale.records.RecordProblem` if damaged)."""
        profile = path.parent.parent.name
        entry = (self.manifest(profile) if manifest is None else manifest).get(self._key(path))
        return self._checked(path, path.read_bytes(), entry and entry["sha256"])

    @staticmethod
    def _checked(path: Path, data: bytes, sha256: str | None) -> dict:
        """:func:`autoscale.records.check_record`, and that the file holds the run its name says."""
        record = record_files.check_record(path, data, sha256)
        stored_hash = config_hash(RunConfig.from_dict(record["config"]))
        if stored_hash != path.stem:
            raise record_files.RecordProblem(
                path, f"holds the config of run {stored_hash}, not of {path.stem}", "delete it to retrain"
            )
        return record

    def load(self, config: RunConfig) -> dict | None:
        """The checked record of ``config``, or None if absent or damaged (then moved aside)."""
        path = self.path(config)
        if not path.is_file():
            return None
        try:
            return self.read(path)
        except record_files.RecordProblem as err:
            moved = self.quarantine(path)
            _warn(f"{err}. It was moved to {moved}, and the run ({describe_run(config)}) will be retrained.")
            return None

    def quarantine(self, path: Path) -> Path:
        """Move a damaged record out of the store (and out of the manifest); returns where to."""
        profile = path.parent.parent.name
        with record_files.locked(self.manifest_path(profile)):
            moved = self._move_aside(path)
            entries = self._entries(profile)
            if entries.pop(self._key(path), None) is not None:
                record_files.write_manifest(self.manifest_path(profile), entries)
        return moved

    def _move_aside(self, path: Path) -> Path:
        profile_dir = path.parent if path.name == record_files.MANIFEST else path.parent.parent
        target = profile_dir / "corrupt" / f"{path.stem}.{record_files.now()}{path.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        return target

    def save(self, record: dict, wall_seconds: float | None = None) -> Path:
        """Stamp (fingerprint, versions), write compactly and atomically, add to the manifest."""
        config = RunConfig.from_dict(record["config"])
        path = self.path(config)
        stamped = record_files.stamp(record, wall_seconds)
        stamped["config_hash"] = path.stem
        return self.save_encoded(path, stamped, record_files.encode(stamped))

    def save_encoded(self, path: Path, record: dict, data: bytes) -> Path:
        """Write a stamped record already encoded as ``data`` (e.g. brought back from a GPU
        machine) to ``path`` and add it to its profile's manifest."""
        profile = path.parent.parent.name
        with record_files.locked(self.manifest_path(profile)):
            atomic_write_bytes(path, data)
            entries = self._entries(profile)
            entries[self._key(path)] = record_files.manifest_entry(record, data, self._key(path))
            record_files.write_manifest(self.manifest_path(profile), entries)
        return path

    def rebuild_manifest(self, profile: str) -> dict[str, dict]:
        """A manifest from the profile's record files as they are (damaged ones moved aside).
        The caller holds the manifest lock or is alone."""
        entries = {}
        for path in self.record_paths(profile):
            data = path.read_bytes()
            try:
                record = self._checked(path, data, None)
            except record_files.RecordProblem as err:
                _warn(f"{err}. It was moved to {self._move_aside(path)}.")
                continue
            entries[self._key(path)] = record_files.manifest_entry(record, data, self._key(path))
        record_files.write_manifest(self.manifest_path(profile), entries)
        return entries

    def timing_entries(self, profile: str) -> list[dict]:
        """Manifest entries of ``profile`` to estimate training times from: the current manifest's,
        and those of the profile's records last moved aside by ``records clear`` (a rebuild from
        scratch still knows how long its runs took)."""
        replaced = sorted((self.root / "replaced").glob(f"{profile}-*/{record_files.MANIFEST}"))
        older = self._read_quietly(replaced[-1]) if replaced else {}
        return [*older.values(), *self.manifest(profile).values()]

    @staticmethod
    def _read_quietly(path: Path) -> dict[str, dict]:
        try:
            return record_files.read_manifest(path)
        except record_files.RecordProblem:
            return {}

    def quarantine_checkpoint(self, path: Path) -> Path:
        target = path.with_name(f"{path.stem}.corrupt-{record_files.now()}{path.suffix}")
        os.replace(path, target)
        return target


def _warn(message: str) -> None:
    warnings.warn(message, RecordWarning, stacklevel=3)


def describe_run(config: RunConfig) -> str:
    """One run in words: method, options, seed, benchmark and profile."""
    options = f" {config.method_options}" if config.method_options else ""
    return f"{config.method}{options}, seed {config.seed}, {config.benchmark} at {config.profile}"


def _resume_or_restart(store: RunStore, checkpoint: Path, what: str, train: Callable[[], T]) -> tuple[T, float]:
    """``train()`` (which resumes from ``checkpoint``) and its wall seconds; a checkpoint that
    cannot be resumed from is moved aside with a warning and ``what`` is trained from the start."""
    started = time.perf_counter()
    try:
        result = train()
    except CorruptCheckpoint as err:
        moved = store.quarantine_checkpoint(checkpoint)
        _warn(f"{err}. It was moved to {moved}; training {what} from the start.")
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
    configs: Sequence[RunConfig], store: RunStore | None = None, progress: bool = True, deadline: float | None = None
) -> list[dict | None]:
    """Train ``configs`` as one stack (:class:`autoscale.stacked.StackedTrainer`) and save each record;
    each gets the stack's wall time divided by its size. With ``deadline`` (a ``time.time()``
    value) training stops after the first epoch that ends past it: nothing is saved, the stack's
    checkpoint is kept and a later call resumes it; the result is then a list of ``None``."""
    store = store or RunStore()
    hashes = sorted(config_hash(c) for c in configs)
    checkpoint = store.root / "checkpoints" / f"stack-{hashlib.sha1(''.join(hashes).encode()).hexdigest()[:16]}.pt"
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


def default_stack_size(device: str) -> int:
    """Runs per stack of a sweep: ``$AUTOSCALE_STACK`` if set, else 64 on CUDA and 1 (no stacking)
    on the CPU, where one run per process is as fast (autoscale.stacked)."""
    value = os.environ.get("AUTOSCALE_STACK", "64" if device.startswith("cuda") else "1")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"AUTOSCALE_STACK={value!r}: expected a positive integer such as 32")
    return int(value)


def default_workers() -> int:
    """Parallel runs of a sweep: ``$AUTOSCALE_WORKERS`` if set, else 1."""
    value = os.environ.get("AUTOSCALE_WORKERS", "1")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"AUTOSCALE_WORKERS={value!r}: expected a positive integer such as 2")
    return int(value)


def _start_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _run_in_worker(config: dict, root: str, force: bool) -> dict:
    return run(RunConfig.from_dict(config), RunStore(root), force=force, progress=False)


def sweep(
    configs: Sequence[RunConfig],
    store: RunStore | None = None,
    force: bool = False,
    progress: bool = True,
    desc: str = "runs",
    workers: int | None = None,
) -> list[dict]:
    """Records of every config (in order), training only those missing from the store.

    With ``workers`` > 1 (default :func:`default_workers`) missing runs train in that many
    processes at once, each with an equal share of this process's CPU threads. Small models use
    cores better this way: on the 2-core reference machine two one-thread MultiMNIST runs finish
    in 36 s where one two-thread run takes 32 s (1.8x the throughput). A run's numbers do not
    depend on which worker trains it, but CPU kernels may round differently with another thread
    count, so a record trained with 1 thread can differ in the last digits from one trained with 2.
    Step times measured while other runs share the machine are comparable with each other, not
    with the dedicated benchmark (``python -m autoscale.bench``).

    On CUDA, missing runs are grouped into stacks of compatible configs (:func:`default_stack_size`,
    :func:`autoscale.stacked.stack_groups`) and each stack is trained in this process.
    """
    store = store or RunStore()
    workers = default_workers() if workers is None else workers
    records: list[dict | None] = [None if force else store.load(c) for c in configs]
    missing = [i for i, r in enumerate(records) if r is None]
    if missing and progress:
        print(plan_line(desc, [configs[i] for i in missing], len(configs), store, workers), flush=True)
    stacks = stack_groups([configs[i] for i in missing], default_stack_size(configs[0].device)) if missing else []
    with tqdm(total=len(configs), initial=len(configs) - len(missing), desc=desc, disable=not progress) as bar:
        if any(len(stack) > 1 for stack in stacks):
            position = {config_hash(configs[i]): i for i in missing}
            for stack in stacks:
                bar.set_postfix_str(f"stack of {len(stack)}: {sorted({c.method for c in stack})}"[:60])
                for config, record in zip(stack, run_stack(stack, store, progress=False), strict=True):
                    records[position[config_hash(config)]] = record
                bar.update(len(stack))
        elif workers <= 1 or len(missing) <= 1:
            for i in missing:
                bar.set_postfix_str(f"{configs[i].method} {configs[i].method_options or ''}"[:60])
                records[i] = run(configs[i], store, force=force, progress=False)
                bar.update(1)
        else:
            records = _sweep_in_workers(configs, records, missing, store, force, min(workers, len(missing)), bar)
    return records  # type: ignore[return-value]


def estimate_seconds(configs: Sequence[RunConfig], store: RunStore) -> float | None:
    """Training time of ``configs`` one after another, from the wall times of earlier runs of
    their profiles (:meth:`RunStore.timing_entries`: mean of the same benchmark and method, else of
    the benchmark); None when a config has nothing to go by."""
    total = 0.0
    manifests = {profile: store.timing_entries(profile) for profile in {c.profile for c in configs}}
    for config in configs:
        entries = [e for e in manifests[config.profile] if e.get("wall_s") and e["benchmark"] == config.benchmark]
        same = [e["wall_s"] for e in entries if e["method"] == config.method] or [e["wall_s"] for e in entries]
        if not same:
            return None
        total += float(np.mean(same))
    return total


def plan_line(desc: str, missing: Sequence[RunConfig], total: int, store: RunStore, workers: int) -> str:
    """The line a sweep prints before it trains: how many runs, and the estimated time."""
    seconds = estimate_seconds(missing, store)
    workers = max(1, min(workers, len(missing)))
    when = (
        f"estimated {seconds / workers / 60:.1f} min with {workers} worker(s), from earlier runs' wall times"
        if seconds is not None
        else "no estimate (no earlier run of these benchmarks in the manifest)"
    )
    return f"{desc}: training {len(missing)} of {total} runs ({total - len(missing)} in the store); {when}"


def sweep_groups(
    groups: Mapping[Any, Sequence[RunConfig]],
    store: RunStore | None = None,
    force: bool = False,
    progress: bool = True,
    desc: str = "runs",
    workers: int | None = None,
) -> dict[Any, list[dict]]:
    """:func:`sweep` over every group's configs in one batch (so that parallel workers stay busy),
    returned as records grouped the same way. Configs shared by groups are trained once."""
    unique = unique_configs(c for configs in groups.values() for c in configs)
    records = sweep(unique, store, force=force, progress=progress, desc=desc, workers=workers)
    by_hash = {config_hash(c): r for c, r in zip(unique, records, strict=True)}
    return {key: [by_hash[config_hash(c)] for c in configs] for key, configs in groups.items()}


def _sweep_in_workers(
    configs: Sequence[RunConfig],
    records: list[dict | None],
    missing: list[int],
    store: RunStore,
    force: bool,
    workers: int,
    bar: tqdm,
) -> list[dict | None]:
    # Spawned, not forked: a fork of a process whose OpenMP pool already runs can deadlock.
    threads = max(1, torch.get_num_threads() // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(_run_in_worker, configs[i].to_dict(), str(store.root), force): i for i in missing}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = futures[future]
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    config = configs[i]
                    raise RuntimeError(
                        f"run {config.method} (seed {config.seed}, {config.benchmark}) failed in a worker: {error}; "
                        "finished runs are kept in the store, so re-running the sweep continues from here"
                    ) from error
                records[i] = future.result()
                bar.update(1)
    return records


def linear_weight_grid(num_tasks: int, n: int, seed: int = 0) -> list[list[float]]:
    """``n`` fixed weight sets summing to ``num_tasks``, spread over the simplex reproducibly.

    Two tasks: evenly spaced, w_1 = 2i/(n+1), i = 1..n (the end points, which drop a task, are
    left out). More tasks: the uniform weights first, then scrambled-Halton points mapped to the
    simplex by sorting (a low-discrepancy cover of the simplex), floored at 5% of the uniform
    weight so that no task is switched off, and renormalised.
    """
    if num_tasks < 2 or n < 1:
        raise ValueError(f"need num_tasks >= 2 and n >= 1, got {num_tasks}, {n}")
    if num_tasks == 2:
        left = [2 * i / (n + 1) for i in range(1, n + 1)]
        return [[round(a, 6), round(2 - a, 6)] for a in left]
    sets = [[1.0] * num_tasks]
    if n > 1:
        points = qmc.Halton(d=num_tasks - 1, scramble=True, seed=seed).random(n - 1)
        cuts = np.sort(points, axis=1)
        simplex = np.diff(np.concatenate([np.zeros((n - 1, 1)), cuts, np.ones((n - 1, 1))], axis=1), axis=1)
        simplex = np.maximum(simplex, 0.05 / num_tasks)
        weights = num_tasks * simplex / simplex.sum(axis=1, keepdims=True)
        sets += [[round(float(v), 6) for v in row] for row in weights]
    return sets


def check_parameters(**params: Any) -> None:
    """Validate notebook parameters early, with errors that say what is expected.

    Known names: ``profile`` (one of PROFILES), ``device`` ("cpu" or "cuda"), ``seeds`` (list of
    ints), ``force`` (bool), and any ``n_*`` count (positive int).
    """
    for name, value in params.items():
        if name == "profile":
            if not isinstance(value, str) or value not in PROFILES:
                raise ValueError(f"parameter profile={value!r}: expected one of {', '.join(PROFILES)}")
        elif name == "device":
            if not isinstance(value, str) or value.split(":")[0] not in DEVICES:
                raise ValueError(f"parameter device={value!r}: expected 'cpu' or 'cuda'")
        elif name == "seeds":
            if not isinstance(value, list | tuple) or not value or not all(isinstance(s, int) for s in value):
                raise TypeError(f"parameter seeds={value!r}: expected a non-empty list of integers, e.g. [0, 1, 2]")
        elif name == "force":
            if not isinstance(value, bool):
                raise TypeError(f"parameter force={value!r}: expected True or False")
        elif name.startswith("n_"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TypeError(f"parameter {name}={value!r}: expected a positive integer")
        else:
            raise ValueError(f"unknown notebook parameter {name!r}")


def provenance(records: Iterable[dict]) -> dict[str, str]:
    """Profile, device, seeds, commit and staleness of a set of run records, for the page's
    provenance line: ``stale`` says how many were trained by other code than the current
    (:func:`autoscale.records.is_stale`) and at which commits."""
    records = list(records)
    if not records:
        return {"profile": "-", "device": "-", "seeds": "-", "commit": "-", "runs": "0", "stale": "-"}

    def distinct(values: Iterable[Any]) -> str:
        return ", ".join(str(v) for v in sorted(set(values), key=str))

    stale = [r for r in records if record_files.is_stale(r)]
    return {
        "profile": distinct(r["config"]["profile"] for r in records),
        "device": distinct(r["device"] for r in records),
        "seeds": distinct(r["config"]["seed"] for r in records),
        "commit": distinct(r["git_commit"] for r in records),
        "runs": str(len(records)),
        "stale": (
            f"{len(stale)} of {len(records)} stale (trained by other code, at commit "
            f"{distinct(r['git_commit'] for r in stale)})"
            if stale
            else "none stale"
        ),
    }


def provenance_line(records: Iterable[dict], what: str = "runs") -> str:
    """The page's provenance line (Markdown): profile, device, seeds, commit, runs, staleness.
    A run read by several of the page's tables counts once."""
    unique = list({r.get("config_hash") or id(r): r for r in records}.values())  # one per run
    p = provenance(unique)
    return (
        f"*Provenance: profile {p['profile']}; device {p['device']}; seeds {p['seeds']}; commit {p['commit']}; "
        f"{p['runs']} {what}; {p['stale']}.*"
    )


@dataclass
class SweepPlan:
    """A linear-scalarization sweep of one benchmark at one profile: fixed weight sets and
    single-task baselines, each over the profile's seeds."""

    benchmark: str
    profile: str
    task_names: list[str]
    weight_sets: list[list[float]]
    seeds: list[int]
    ls_configs: list[RunConfig]
    stl_configs: list[RunConfig]


def ls_sweep_plan(benchmark: str, profile: str, device: str = "cpu", n_weights: int | None = None) -> SweepPlan:
    """The profile's weight grid (``LS_SWEEP_SIZE``) and seeds (:func:`profile_seeds`) for ``benchmark``."""
    from autoscale.tasks import build_tasks

    task_names = [t.name for t in build_tasks(benchmark)]
    seeds = profile_seeds(benchmark, profile)
    weight_sets = linear_weight_grid(len(task_names), n_weights or LS_SWEEP_SIZE[profile])
    ls_configs = [
        profile_config(benchmark, profile, device=device, method="linear", seed=seed, method_options={"weights": w})
        for w in weight_sets
        for seed in seeds
    ]
    stl_configs = [
        profile_config(benchmark, profile, device=device, tasks=[task], seed=seed)
        for task in task_names
        for seed in seeds
    ]
    return SweepPlan(benchmark, profile, task_names, weight_sets, seeds, ls_configs, stl_configs)


def run_sweep_plan(
    plan: SweepPlan,
    store: RunStore | None = None,
    force: bool = False,
    progress: bool = True,
    workers: int | None = None,
) -> tuple[list[dict], list[dict]]:
    """Records of the plan's weight-set runs and single-task runs (trained where missing, in one
    batch so that parallel workers stay busy)."""
    groups = {"ls": plan.ls_configs, "stl": plan.stl_configs}
    records = sweep_groups(
        groups, store, force=force, progress=progress, desc=f"{plan.benchmark} sweep", workers=workers
    )
    return records["ls"], records["stl"]


def stored_sweep_plan(plan: SweepPlan, store: RunStore | None = None) -> tuple[list[dict], list[dict]] | None:
    """The plan's records if the store holds every one of them (nothing is trained), else None:
    lets a chapter built at one profile show another profile's committed runs beside its own."""
    store = store or RunStore()
    ls, stl = [store.load(c) for c in plan.ls_configs], [store.load(c) for c in plan.stl_configs]
    if any(r is None for r in (*ls, *stl)):
        return None
    return ls, stl  # type: ignore[return-value]
