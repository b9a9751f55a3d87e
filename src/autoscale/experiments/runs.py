"""Sweeps: many configs into records, over worker processes or Ray (one run or one stack:
:mod:`autoscale.experiments.execute`)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from autoscale.experiments.execute import run, run_stack
from autoscale.experiments.plans import SweepPlan
from autoscale.experiments.ray_engine import RayEngine, sweep_ray
from autoscale.experiments.store import RunStore, config_hash, unique_configs
from autoscale.training.config import RunConfig
from autoscale.training.stacked import stack_groups


def default_stack_size(device: str) -> int:
    """Runs per stack of a sweep: ``$AUTOSCALE_STACK`` if set, else 64 on CUDA and 1 (no stacking)
    on the CPU, where one run per process is as fast (autoscale.training.stacked)."""
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
    engine: RayEngine | None = None,
) -> list[dict]:
    """Records of every config (in order), training only those missing from the store.

    With ``engine`` the missing runs are Ray tasks (:mod:`autoscale.experiments.ray_engine`), on a
    local instance or a cluster; ``workers`` then does not apply.

    With ``workers`` > 1 (default :func:`default_workers`) missing runs train in that many
    processes at once, each with an equal share of this process's CPU threads. Small models use
    cores better this way: on the 2-core reference machine two one-thread MultiMNIST runs finish
    in 36 s where one two-thread run takes 32 s (1.8x the throughput). A run's numbers do not
    depend on which worker trains it, but CPU kernels may round differently with another thread
    count, so a record trained with 1 thread can differ in the last digits from one trained with 2.
    Step times measured while other runs share the machine are comparable with each other, not
    with the dedicated benchmark (``python -m autoscale.bench``).

    On CUDA, missing runs are grouped into stacks of compatible configs (:func:`default_stack_size`,
    :func:`autoscale.training.stacked.stack_groups`) and each stack is trained in this process.
    """
    store = store or RunStore()
    if engine is not None:
        return sweep_ray(configs, store, force=force, progress=progress, desc=desc, engine=engine)
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
                for config, record in zip(stack, run_stack(stack, store, progress=False, force=force), strict=True):
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
    their profiles: the mean of the same benchmark and method, else of the benchmark, taken from the
    profile's current records where they have one (their settings are the configs'), else from
    those last moved aside (:meth:`RunStore.timing_entries`); None when a config has nothing to go by."""
    total = 0.0
    profiles = {c.profile for c in configs}
    current = {p: list(store.manifest(p).values()) for p in profiles}
    earlier = {p: store.timing_entries(p) for p in profiles}
    for config in configs:
        for entries in (current[config.profile], earlier[config.profile]):
            entries = [e for e in entries if e.get("wall_s") and e["benchmark"] == config.benchmark]
            same = [e["wall_s"] for e in entries if e["method"] == config.method] or [e["wall_s"] for e in entries]
            if same:
                total += float(np.mean(same))
                break
        else:
            return None
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
    engine: RayEngine | None = None,
) -> dict[Any, list[dict]]:
    """:func:`sweep` over every group's configs in one batch (so that parallel workers stay busy),
    returned as records grouped the same way. Configs shared by groups are trained once."""
    unique = unique_configs(c for configs in groups.values() for c in configs)
    records = sweep(unique, store, force=force, progress=progress, desc=desc, workers=workers, engine=engine)
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


def run_sweep_plan(
    plan: SweepPlan,
    store: RunStore | None = None,
    force: bool = False,
    progress: bool = True,
    workers: int | None = None,
    engine: RayEngine | None = None,
) -> tuple[list[dict], list[dict]]:
    """Records of the plan's weight-set runs and single-task runs (trained where missing, in one
    batch so that parallel workers stay busy)."""
    groups = {"ls": plan.ls_configs, "stl": plan.stl_configs}
    records = sweep_groups(
        groups, store, force=force, progress=progress, desc=f"{plan.benchmark} sweep", workers=workers, engine=engine
    )
    return records["ls"], records["stl"]
