"""Which runs each experiment and each chapter of the book needs (configs only, nothing trained)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autoscale.experiments.profiles import (
    LS_SWEEP_SIZE,
    PROFILE_SETTINGS,
    check_profile,
    linear_weight_grid,
    profile_config,
    profile_seeds,
)
from autoscale.experiments.store import RunStore, unique_configs
from autoscale.methods.autoscale import DEFAULTS
from autoscale.training.config import RunConfig
from autoscale.training.datasets import has_data


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
    from autoscale.training.tasks import build_tasks

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


def stored_sweep_plan(plan: SweepPlan, store: RunStore | None = None) -> tuple[list[dict], list[dict]] | None:
    """The plan's records if the store holds every one of them (nothing is trained), else None:
    lets a chapter built at one profile show another profile's committed runs beside its own."""
    store = store or RunStore()
    ls, stl = [store.load(c) for c in plan.ls_configs], [store.load(c) for c in plan.stl_configs]
    if any(r is None for r in (*ls, *stl)):
        return None
    return ls, stl  # type: ignore[return-value]


# The rows of the paper's Tables 1 and 2 that we train (searched weights come from the LS sweep).
MAIN_METHODS = ("uw", "gradnorm", "mgda", "pcgrad", "imtlg", "rlw", "alignedmtl", "famo", "unitary", "autoscale")
# Methods that manipulate per-task gradients every step (need the Gramian): the paper's costly MTOs.
GRADIENT_METHODS = ("gradnorm", "mgda", "pcgrad", "imtlg", "alignedmtl")

AUTOSCALE_DEFAULTS = DEFAULTS  # the method's own defaults (autoscale.methods.autoscale)
AUTOSCALE_WINDOW: dict[str, dict[str, int]] = {
    "smoke": {"multimnist": 1, "multifashion": 1, "scenes-street": 1, "scenes-indoor": 1},
    "cpu": {"multimnist": 25, "multifashion": 25, "scenes-street": 10, "scenes-indoor": 10},
    "full": {},
    "gpuday": {},
}


@dataclass(frozen=True)
class Ablation:
    """One AutoScale option varied over ``values`` (the others at their defaults)."""

    option: str
    title: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]


ABLATIONS: dict[str, Ablation] = {
    "alpha": Ablation(
        "alpha",
        "exploration ratio α (Fig. 6)",
        (0.05, 0.1, 0.2, 0.3, 0.5, 1.0),
        ("0.05", "0.1", "0.2", "0.3", "0.5", "1.0"),
    ),
    "explore": Ablation(
        "explore",
        "exploration method (Table 3)",
        ("unitary", "pcgrad", "alignedmtl", "imtlg", "famo"),
        ("Unitary", "PCGrad", "Aligned-MTL", "IMTL-G", "FAMO"),
    ),
    "cost": Ablation(
        "cost",
        "cost function (Table 4)",
        ("condition", "equal_loss", "equal_grad"),
        ("Low cond.", "Equal |l|", "Equal |g|"),
    ),
    "predictor": Ablation(
        "predictor",
        "weight predictor (Table 5)",
        ("avg", "last", "linear", "linear_follow", "exp"),
        ("Avg W", "Last W", "L.E.", "L.E.†", "E.E."),
    ),
}
# Benchmarks and seeds of each ablation per profile. At cpu the ablations run on MultiMNIST with one
# seed: a scenes run costs 2-3 MultiMNIST runs on 2 cores, and the book must build within an hour
# there (the scenes' main results and metric study already take half of it). The chapter shows the
# seed spread of the main results as the yardstick. At full every ablation runs on every benchmark.
ABLATION_BENCHMARKS: dict[str, dict[str, tuple[str, ...]]] = {
    "smoke": {name: ("multimnist",) for name in ABLATIONS},
    "cpu": {name: ("multimnist",) for name in ABLATIONS},
    "full": {name: ("multimnist", "scenes-street", "scenes-indoor") for name in ABLATIONS},
    "gpuday": {name: ("multimnist", "scenes-street", "scenes-indoor") for name in ABLATIONS},
}
ABLATION_SEEDS: dict[str, list[int]] = {"smoke": [0], "cpu": [0], "full": [0, 1, 2], "gpuday": [0, 1, 2]}


def autoscale_options(benchmark: str, profile: str, **overrides: Any) -> dict[str, Any]:
    """AutoScale's method options at ``profile``: the profile's window, then ``overrides``.

    Options equal to AutoScale's defaults are left out, so that the same run has the same config
    (and record in the run store) whichever table asks for it.
    """
    check_profile(profile)
    options = {"window": AUTOSCALE_WINDOW[profile].get(benchmark, AUTOSCALE_DEFAULTS["window"]), **overrides}
    unknown = set(options) - set(AUTOSCALE_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown AutoScale option(s) {sorted(unknown)}; options: {sorted(AUTOSCALE_DEFAULTS)}")
    return {k: v for k, v in options.items() if v != AUTOSCALE_DEFAULTS[k]}


def method_config(
    benchmark: str, profile: str, method: str, seed: int, device: str = "cpu", **options: Any
) -> RunConfig:
    """The config of one method's run; AutoScale gets :func:`autoscale_options`."""
    if method == "autoscale":
        options = autoscale_options(benchmark, profile, **options)
    return profile_config(benchmark, profile, device=device, method=method, seed=seed, method_options=options)


def main_configs(
    benchmark: str, profile: str, device: str = "cpu", methods: Sequence[str] = MAIN_METHODS
) -> dict[str, list[RunConfig]]:
    """Configs of the main table's trained rows, over the profile's seeds, keyed by method name."""
    seeds = profile_seeds(benchmark, profile)
    return {m: [method_config(benchmark, profile, m, s, device) for s in seeds] for m in methods}


def ablation_configs(benchmark: str, profile: str, name: str, device: str = "cpu") -> dict[str, list[RunConfig]]:
    """Configs of one ablation, keyed by the row label. α = 1 never switches to LS, so that row is
    the exploration method's own run (IMTL-G with the same seed), which is what AutoScale trains."""
    ablation = ABLATIONS[name]
    out = {}
    for value, label in zip(ablation.values, ablation.labels, strict=True):
        configs = []
        for seed in ABLATION_SEEDS[profile]:
            if name == "alpha" and value == 1.0:
                configs.append(method_config(benchmark, profile, AUTOSCALE_DEFAULTS["explore"], seed, device))
            else:
                configs.append(method_config(benchmark, profile, "autoscale", seed, device, **{ablation.option: value}))
        out[label] = configs
    return out


def main_groups(
    benchmarks: Sequence[str], profile: str, device: str = "cpu", methods: Sequence[str] = MAIN_METHODS
) -> dict[tuple[str, str], list[RunConfig]]:
    """Configs of the main tables: per benchmark, the LS sweep (``"ls"``), the single-task runs
    (``"stl"``) and each method's runs, keyed by (benchmark, group)."""
    groups: dict[tuple[str, str], list[RunConfig]] = {}
    for b in benchmarks:
        plan = ls_sweep_plan(b, profile, device=device)
        groups[b, "ls"] = plan.ls_configs
        groups[b, "stl"] = plan.stl_configs
        groups.update({(b, m): configs for m, configs in main_configs(b, profile, device, methods).items()})
    return groups


def ablation_groups(available: Sequence[str], profile: str, device: str = "cpu") -> dict[tuple, list[RunConfig]]:
    """Configs of every ablation of ``ABLATION_BENCHMARKS[profile]`` on the ``available``
    benchmarks: the single-task runs keyed (benchmark, "stl"), the rows (benchmark, ablation, label)."""
    check_profile(profile)
    groups: dict[tuple, list[RunConfig]] = {}
    for name, benchmarks in ABLATION_BENCHMARKS[profile].items():
        for b in (b for b in benchmarks if b in available):
            groups[b, "stl"] = ls_sweep_plan(b, profile, device=device).stl_configs
            groups.update({(b, name, label): c for label, c in ablation_configs(b, profile, name, device).items()})
    return groups


# Overrides of the MultiMNIST profile for this chapter's run. Metrics are logged every step at
# `smoke` (its run has only 8 steps); at `cpu` and `full` the run is the profile's own, so the
# linear-scalarization chapters' equal-weight record (seed 0) is reused from the run store.
METRIC_RUN_OVERRIDES: dict[str, dict[str, Any]] = {"smoke": {"metrics_every": 1}, "cpu": {}, "full": {}, "gpuday": {}}


def metric_run_config(profile: str, device: str = "cpu") -> RunConfig:
    """The chapter's run: MultiMNIST with equal weights (1, 1) at ``profile``, seed 0."""
    return profile_config(
        "multimnist",
        profile,
        device=device,
        method="linear",
        method_options={"weights": [1.0, 1.0]},
        **METRIC_RUN_OVERRIDES[profile],
    )


# The benchmarks the book's chapters consider, in display order; those without profiles
# (real datasets not yet sized for a profile) are left out.
CANDIDATE_BENCHMARKS = ("multimnist", "scenes-street", "scenes-indoor", "nyuv2", "cityscapes3")
# Chapters (notebook names) in the book's order; the runtime chapter reads benchmark files only.
CHAPTERS = ("ls_multimnist", "mto_metrics", "ls_sweep", "main_results", "autoscale_walkthrough", "ablations", "verdict")


def book_benchmarks(require_data: bool = True) -> list[str]:
    """The benchmarks the chapters show: those with profiles whose data is here (``require_data``)."""
    return [b for b in CANDIDATE_BENCHMARKS if b in PROFILE_SETTINGS and (not require_data or has_data(b))]


def chapter_configs(profile: str, device: str = "cpu") -> dict[str, list[RunConfig]]:
    """Every chapter's runs at ``profile`` (each config once per chapter; chapters share runs)."""
    benchmarks = book_benchmarks(require_data=False)
    main = [c for configs in main_groups(benchmarks, profile, device).values() for c in configs]
    autoscale_only = main_groups(benchmarks, profile, device, methods=["autoscale"]).values()
    ablations = [c for configs in ablation_groups(benchmarks, profile, device).values() for c in configs]
    plans = {b: ls_sweep_plan(b, profile, device=device) for b in benchmarks}
    plan = {
        "ls_multimnist": [*plans["multimnist"].ls_configs, *plans["multimnist"].stl_configs],
        "mto_metrics": [metric_run_config(profile, device)],
        "ls_sweep": [c for p in plans.values() for c in (*p.ls_configs, *p.stl_configs)],
        "main_results": main,
        "autoscale_walkthrough": [c for configs in autoscale_only for c in configs],
        "ablations": ablations,
        "verdict": [*main, *ablations],
    }
    return {chapter: unique_configs(plan[chapter]) for chapter in CHAPTERS}


def book_configs(profile: str, device: str = "cpu") -> list[RunConfig]:
    """Every run of the book at ``profile``, once."""
    return unique_configs(c for configs in chapter_configs(profile, device).values() for c in configs)
