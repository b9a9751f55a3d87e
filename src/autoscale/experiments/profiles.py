"""Profiles: the run settings of ``smoke``, ``cpu``, ``cpu-long``, ``full`` and ``gpuday``, which each
benchmark declares (:attr:`Benchmark.profiles <autoscale.benchmarks.declaration.Benchmark.profiles>`), and
their seeds.

``cpu-long`` is the paper's regime on 2 CPU cores: every run is at least 1000 steps, so that AutoScale at
the paper's α = 0.2 explores at least 200 steps in at least 20 windows (τ = 10, see
:func:`autoscale.experiments.plans.autoscale_window`); the seed counts were fixed before its runs were
trained (:data:`SEED_RULES`). ``cpu`` stays as the short setting (AutoScale explores 60 to 160 steps
in six windows), which the window-count chapter reports as a finding of its own.

Importing this module is cheap (no torch, numpy or scipy, and none in the benchmarks' declarations it
reads): the command line reads the profile names from it to build its parser, and ``python -m autoscale
--help`` must answer at once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autoscale.benchmarks import benchmark as declared_benchmark

if TYPE_CHECKING:
    from autoscale.training.config import RunConfig

PROFILES = ("smoke", "cpu", "cpu-long", "full", "gpuday")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class SeedRule:
    """How many seeds a profile's runs use: ``tables`` for the main tables, the LS sweeps and the
    ablations (unless a benchmark declares its own count, :attr:`Benchmark.seeds
    <autoscale.benchmarks.declaration.Benchmark.seeds>`), ``real_data`` on the real datasets (their
    runs cost minutes each on a CPU), and at most ``studies`` for the studies beyond the paper's
    tables (the capacity study and the PBT searches; None: the tables' count). Seeds are always 0,
    1, ..., n - 1, so a profile with more seeds reuses the runs of one with fewer."""

    tables: int
    real_data: int | None = None
    studies: int | None = None


# Three seeds everywhere but at smoke, so that every comparison of the book is paired over >= 3 seeds;
# the real datasets keep one seed on a CPU (they add an hour or more to the cpu book on 2 cores).
# cpu-long's counts were fixed before its runs were trained, from the power estimate on the cpu
# records' seed-to-seed spreads (autoscale.book.power; frozen in autoscale/book/reference/power_estimate.json),
# within the 5-hour budget of a from-scratch cpu-long book on 2 cores: each benchmark declares its own
# (Benchmark.seeds, with the reasons). Its studies beyond the paper's tables keep three seeds.
SEED_RULES: dict[str, SeedRule] = {
    "smoke": SeedRule(1),
    "cpu": SeedRule(3, real_data=1),
    "cpu-long": SeedRule(3, real_data=1, studies=3),
    "full": SeedRule(3),
    "gpuday": SeedRule(3),
}
# Fixed weight sets of a linear-scalarization sweep, per profile, for two tasks and for more: at
# cpu-long and full the paper's Fig. 3 density (19 sets for K = 2, at least 16 for K = 3 and 4).
LS_SWEEP_SIZE: dict[str, tuple[int, int]] = {
    "smoke": (3, 3),
    "cpu": (9, 9),
    "cpu-long": (19, 16),
    "full": (19, 19),
    "gpuday": (19, 19),
}


def profile_seeds(benchmark: str, profile: str) -> list[int]:
    """Seeds of the tables, LS sweeps and ablations of ``benchmark`` at ``profile`` (:data:`SEED_RULES`)."""
    check_profile(profile)
    rule, declared = SEED_RULES[profile], declared_benchmark(benchmark)
    if rule.real_data is not None and declared.downloaded:
        return list(range(rule.real_data))
    return list(range(declared.seeds.get(profile, rule.tables)))


def study_seeds(benchmark: str, profile: str) -> list[int]:
    """Seeds of the capacity study and the PBT searches (:attr:`SeedRule.studies`)."""
    studies = SEED_RULES[profile].studies
    return profile_seeds(benchmark, profile)[:studies]


def ls_sweep_size(profile: str, num_tasks: int) -> int:
    """Number of fixed weight sets of a linear-scalarization sweep of ``num_tasks`` tasks at ``profile``."""
    two, more = LS_SWEEP_SIZE[profile]
    return two if num_tasks == 2 else more


def check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")


def profile_config(benchmark: str, profile: str, **overrides: Any) -> RunConfig:
    """The RunConfig of ``benchmark`` at ``profile``, with ``overrides`` applied on top."""
    check_profile(profile)
    settings = declared_benchmark(benchmark).profiles
    if profile not in settings:
        raise ValueError(f"benchmark {benchmark!r} has no {profile} profile; its profiles: {', '.join(settings)}")
    from autoscale.training.config import RunConfig

    fields = copy.deepcopy(dict(settings[profile]))
    fields.update(copy.deepcopy(overrides))
    return RunConfig(benchmark=benchmark, profile=profile, **fields)


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
    import numpy as np
    from scipy.stats import qmc

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
