"""How long would the book's runs of a profile take from scratch on this machine?

    python -m autoscale.bench.from_scratch --profile cpu --per-benchmark 4

Training every run of a profile to time it takes as long as the budget it checks, so this trains
a sample instead: ``--per-benchmark`` runs of the book's plan per benchmark (spread over its
methods, seeded), in a temporary store, with the same workers as ``records train``. Their wall
time against the committed records' wall times of the same configs gives the ratio of this
machine, now, to the conditions the records were trained under; the committed wall times of the
whole plan, scaled by that ratio and divided among the workers, give the from-scratch estimate.
It prints the ratio and the estimate; nothing is written to the results root.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Sequence

from autoscale.experiments.plans import book_configs
from autoscale.experiments.runs import default_workers, sweep
from autoscale.experiments.store import RunStore
from autoscale.training.config import RunConfig


def sample_configs(configs: Sequence[RunConfig], per_benchmark: int, seed: int = 0) -> list[RunConfig]:
    """``per_benchmark`` configs per benchmark, as many distinct methods as possible, seeded."""
    rng = random.Random(seed)
    chosen: list[RunConfig] = []
    for benchmark in sorted({c.benchmark for c in configs}):
        pool = [c for c in configs if c.benchmark == benchmark]
        rng.shuffle(pool)
        by_method: dict[str, RunConfig] = {}
        for c in pool:
            by_method.setdefault(c.method, c)
        distinct = list(by_method.values())
        rest = [c for c in pool if c not in distinct]
        chosen += (distinct + rest)[:per_benchmark]
    return chosen


def recorded_seconds(configs: Sequence[RunConfig], store: RunStore) -> list[float]:
    """The committed wall time of each config's record (run time only, not data preparation)."""
    seconds = []
    for config in configs:
        record = store.load(config)
        if record is None or not record.get("wall_seconds"):
            raise SystemExit(f"no committed record with a wall time for {config.benchmark}/{config.method}")
        seconds.append(float(record["wall_seconds"]))
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autoscale.bench.from_scratch", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--per-benchmark", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    store = RunStore()
    plan = book_configs(args.profile, "cpu", store)
    sample = sample_configs(plan, args.per_benchmark)
    workers = default_workers() if args.workers is None else args.workers  # `make` passes nproc
    committed_sample = sum(recorded_seconds(sample, store))
    committed_plan = sum(recorded_seconds(plan, store))
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        sweep(sample, RunStore(scratch), desc="sample", workers=workers)
        measured = time.perf_counter() - start
    # The sample's committed wall times were spent `workers` at a time too.
    ratio = measured / (committed_sample / workers)
    estimate = committed_plan / workers * ratio
    print(f"plan: {len(plan)} runs of profile {args.profile}; committed wall times: {committed_plan / 60:.1f} min")
    print(f"sample: {len(sample)} runs ({', '.join(sorted({c.method for c in sample}))}), {workers} workers")
    print(f"sample now: {measured:.0f} s; committed: {committed_sample / workers:.0f} s; ratio {ratio:.2f}")
    print(f"from-scratch estimate (runs only, {workers} workers): {estimate / 60:.0f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
