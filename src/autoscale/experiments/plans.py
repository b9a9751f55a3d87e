"""Which runs each experiment and each chapter of the book needs (configs only, nothing trained)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from autoscale.benchmarks import benchmark as declared_benchmark
from autoscale.experiments.profiles import (
    check_profile,
    linear_weight_grid,
    ls_sweep_size,
    profile_config,
    profile_seeds,
    study_seeds,
)
from autoscale.experiments.store import RunStore, config_hash, unique_configs
from autoscale.methods import method_info, table_methods
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


def ls_sweep_plan(
    benchmark: str,
    profile: str,
    device: str = "cpu",
    n_weights: int | None = None,
    seeds: Sequence[int] | None = None,
) -> SweepPlan:
    """The profile's weight grid (:func:`~autoscale.experiments.profiles.ls_sweep_size`) and seeds
    (:func:`profile_seeds`) for ``benchmark``, unless ``n_weights`` and ``seeds`` say otherwise."""
    from autoscale.training.tasks import build_tasks

    task_names = [t.name for t in build_tasks(benchmark)]
    seeds = profile_seeds(benchmark, profile) if seeds is None else list(seeds)
    weight_sets = linear_weight_grid(len(task_names), n_weights or ls_sweep_size(profile, len(task_names)))
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


# The rows of our main tables, in table order, from each method's declaration (``MethodInfo``): the
# paper's MTOs, the extra methods, unitary LS, AutoScale (searched weights come from the LS sweep).
TABLE_METHODS = table_methods()
# The rows of the paper's Tables 1 and 2 that we train.
MAIN_METHODS = tuple(m for m in TABLE_METHODS if method_info(m).in_paper)
# Methods of the package that the paper's tables do not have: extra rows of our main tables, marked
# as such and left out of every comparison with the paper's numbers.
EXTRA_METHODS = tuple(m for m in TABLE_METHODS if not method_info(m).in_paper)
# The paper's MTOs that manipulate per-task gradients every step (need the Gramian): its costly ones.
GRADIENT_METHODS = tuple(m for m in MAIN_METHODS if method_info(m).family == "gramian" and m != "autoscale")

# The benchmarks the book's chapters consider, in display order: the offline ones always, the real
# datasets of the paper's Table 2 (NYUv2 4-task, CityScapes 3-task) only where their data has been
# downloaded (book_benchmarks). CityScapes 2-task is left to the command line (not in the paper).
CANDIDATE_BENCHMARKS = ("multimnist", "scenes-street", "scenes-indoor", "nyuv2", "cityscapes3")
# Of those, the ones whose data is made here (every machine has it): the ablations and the window-count
# study run on every one of them at the longer profiles.
OFFLINE_BENCHMARKS = tuple(b for b in CANDIDATE_BENCHMARKS if not declared_benchmark(b).downloaded)


def autoscale_window(benchmark: str, profile: str) -> int:
    """AutoScale's window τ on ``benchmark`` at ``profile``: the paper's τ = 50 (DEFAULTS) unless the
    benchmark shortens it at that profile (:attr:`Benchmark.autoscale_window
    <autoscale.benchmarks.declaration.Benchmark.autoscale_window>`). The cpu runs are 10-40x shorter
    than the paper's, so τ = 50 would leave one to three windows in the exploration phase and the
    predictors nothing to extrapolate; τ shrinks there so that the exploration has six windows at
    α = 0.2 (at cpu-long twenty and more), and stays fixed across the α ablation, as in the paper."""
    return declared_benchmark(benchmark).autoscale_window.get(profile, DEFAULTS["window"])


@dataclass(frozen=True)
class Ablation:
    """One AutoScale option varied over ``values`` (the others at their defaults); ``labels`` are
    the values as the paper prints them, for display only."""

    option: str
    title: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]

    @property
    def default(self) -> Any:
        """The option's value in AutoScale's defaults (:data:`autoscale.methods.autoscale.DEFAULTS`)."""
        return DEFAULTS[self.option]

    def label(self, value: Any) -> str:
        """The paper's name of ``value`` (e.g. ``"L.E."`` for the predictor ``"linear"``)."""
        return self.labels[self.values.index(value)]


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
# Benchmarks and seeds of each ablation per profile. At cpu the ablations run on MultiMNIST only (a
# scenes run costs about as much as a MultiMNIST run, and the scenes' three-seed main tables already
# take half of the cpu book's budget), with three seeds so that each value is compared with the
# default on paired seeds. At cpu-long, full and gpuday every ablation runs on every offline benchmark
# of the book, at cpu-long with the main tables' seeds.
ABLATION_BENCHMARKS: dict[str, dict[str, tuple[str, ...]]] = {
    "smoke": {name: ("multimnist",) for name in ABLATIONS},
    "cpu": {name: ("multimnist",) for name in ABLATIONS},
    "cpu-long": {name: OFFLINE_BENCHMARKS for name in ABLATIONS},
    "full": {name: OFFLINE_BENCHMARKS for name in ABLATIONS},
    "gpuday": {name: OFFLINE_BENCHMARKS for name in ABLATIONS},
}


def ablation_seeds(benchmark: str, profile: str) -> list[int]:
    """Seeds of every ablation row of ``benchmark`` at ``profile``: the main tables' (the ablations
    compare with the main tables' AutoScale row, seed by seed)."""
    return profile_seeds(benchmark, profile)


# How many exploration windows does AutoScale need (beyond the paper)? The count is varied two ways,
# on the benchmarks of WINDOW_STUDY_TAUS[profile], over the profile's seeds:
# - shorter windows over the same exploration (α T steps at the default α): AutoScale trained to the
#   end with its default predictor, so that Δm is measured at each count; keyed ("tau", τ), from
#   three windows to fifty and more (the profile's own τ is the main table's run);
# - a longer exploration at the profile's τ: AutoScale with α = 1 explores all run long and records
#   every window; the prediction from its first n windows is the one an exploration of n τ steps
#   makes (phase 2 aside), computed afterwards for every predictor; keyed ("explore_all", τ).
_FULL_TAUS = {"multimnist": (390, 100, 20), "scenes-street": (330, 100, 20)}
WINDOW_STUDY_TAUS: dict[str, dict[str, tuple[int, ...]]] = {
    "smoke": {"multimnist": (), "scenes-street": ()},
    # α T = 158 (MultiMNIST) and 60 (street) steps: 3, 6 (main), 13, 26, 52 and 3, 6 (main), 12, 30, 60 windows.
    "cpu": {"multimnist": (50, 12, 6, 3), "scenes-street": (20, 5, 2, 1)},
    # α T = 200 (MultiMNIST) and 240 (scenes) steps: 5, 10, 20 (main), 40 and 6, 12, 24 (main), 48 windows.
    "cpu-long": {b: (40, 20, 5) for b in OFFLINE_BENCHMARKS},
    # α T = 1176 and 1000 steps: 3, 11, 23 (main), 58 and 3, 10, 20 (main), 50 windows.
    "full": _FULL_TAUS,
    "gpuday": _FULL_TAUS,
}


def autoscale_options(benchmark: str, profile: str, **overrides: Any) -> dict[str, Any]:
    """AutoScale's method options at ``profile``: the profile's window, then ``overrides``.

    Options equal to AutoScale's defaults are left out, so that the same run has the same config
    (and record in the run store) whichever table asks for it.
    """
    check_profile(profile)
    options = {"window": autoscale_window(benchmark, profile), **overrides}
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown AutoScale option(s) {sorted(unknown)}; options: {sorted(DEFAULTS)}")
    return {k: v for k, v in options.items() if v != DEFAULTS[k]}


def method_config(
    benchmark: str, profile: str, method: str, seed: int, device: str = "cpu", **options: Any
) -> RunConfig:
    """The config of one method's run; AutoScale gets :func:`autoscale_options`."""
    if method == "autoscale":
        options = autoscale_options(benchmark, profile, **options)
    return profile_config(benchmark, profile, device=device, method=method, seed=seed, method_options=options)


def main_configs(
    benchmark: str, profile: str, device: str = "cpu", methods: Sequence[str] = TABLE_METHODS
) -> dict[str, list[RunConfig]]:
    """Configs of the main table's trained rows, over the profile's seeds, keyed by method name."""
    seeds = profile_seeds(benchmark, profile)
    return {m: [method_config(benchmark, profile, m, s, device) for s in seeds] for m in methods}


def ablation_configs(benchmark: str, profile: str, name: str, device: str = "cpu") -> dict[Any, list[RunConfig]]:
    """Configs of one ablation, keyed by the option's value. α = 1 never switches to LS, so that
    row is the exploration method's own run (IMTL-G with the same seed), which is what AutoScale
    trains."""
    ablation = ABLATIONS[name]
    out = {}
    for value in ablation.values:
        configs = []
        for seed in ablation_seeds(benchmark, profile):
            if name == "alpha" and value == 1.0:
                configs.append(method_config(benchmark, profile, DEFAULTS["explore"], seed, device))
            else:
                configs.append(method_config(benchmark, profile, "autoscale", seed, device, **{ablation.option: value}))
        out[value] = configs
    return out


def window_study_configs(benchmark: str, profile: str, device: str = "cpu") -> dict[tuple[str, int], list[RunConfig]]:
    """Configs of the window-count study on ``benchmark`` (:data:`WINDOW_STUDY_TAUS`), over the
    profile's seeds: ("tau", τ) AutoScale with window τ; ("explore_all", τ) AutoScale with α = 1 at
    the profile's τ."""
    seeds = profile_seeds(benchmark, profile)
    groups = {
        ("tau", tau): [method_config(benchmark, profile, "autoscale", s, device, window=tau) for s in seeds]
        for tau in WINDOW_STUDY_TAUS[profile][benchmark]
    }
    groups["explore_all", autoscale_window(benchmark, profile)] = [
        method_config(benchmark, profile, "autoscale", s, device, alpha=1.0) for s in seeds
    ]
    return groups


def window_study_benchmarks(profile: str) -> tuple[str, ...]:
    """The benchmarks of the window-count study at ``profile``."""
    return tuple(WINDOW_STUDY_TAUS[profile])


def window_study_groups(available: Sequence[str], profile: str, device: str = "cpu") -> dict[tuple, list[RunConfig]]:
    """The window-count chapter's runs on the ``available`` benchmarks of
    :func:`window_study_benchmarks`, keyed (benchmark, "tau", τ) (the profile's τ is the main
    table's AutoScale run), (benchmark, "explore_all", τ) and (benchmark, "stl")."""
    groups: dict[tuple, list[RunConfig]] = {}
    for b in (b for b in window_study_benchmarks(profile) if b in available):
        groups.update({(b, *key): configs for key, configs in window_study_configs(b, profile, device).items()})
        groups[b, "tau", autoscale_window(b, profile)] = main_configs(b, profile, device, ["autoscale"])["autoscale"]
        groups[b, "stl"] = ls_sweep_plan(b, profile, device=device).stl_configs
    return groups


# The capacity study (chapter "Scalarization at scale", Royer et al. 2023): the LS sweep of the
# profile repeated at width multipliers of the model (MultiLeNet; the small dense CNN), each with its
# own single-task baselines. Width 1 is the book's model, whose sweep is the other chapters'.
CAPACITY_WIDTHS: dict[str, tuple[float, ...]] = {
    "smoke": (0.5, 1.0),
    "cpu": (0.5, 1.0, 2.0),
    "cpu-long": (0.5, 1.0, 2.0),
    "full": (0.5, 1.0, 2.0, 4.0),
    "gpuday": (0.5, 1.0, 2.0, 4.0),
}
CAPACITY_BENCHMARKS: dict[str, tuple[str, ...]] = {
    "smoke": ("multimnist",),
    "cpu": ("multimnist",),
    "cpu-long": ("multimnist",),
    "full": ("multimnist", "scenes-street", "scenes-indoor"),
    "gpuday": ("multimnist",),
}
# At cpu-long the study sweeps 9 weight sets (the cpu grid, a subset of cpu-long's 19 for two tasks, so
# that width 1 reuses the book's runs) on study_seeds (three), not the main tables' eleven seeds.
CAPACITY_SWEEP_SIZE: dict[str, int | None] = {"cpu-long": 9}


def capacity_plan(benchmark: str, profile: str, width: float, device: str = "cpu") -> SweepPlan:
    """:func:`ls_sweep_plan` (:data:`CAPACITY_SWEEP_SIZE` weight sets on :func:`study_seeds`) with the
    model's widths multiplied by ``width`` (``model={"width": w}``; width 1 leaves the config, and so its
    hash, as the book's sweep has it)."""
    plan = ls_sweep_plan(
        benchmark,
        profile,
        device=device,
        n_weights=CAPACITY_SWEEP_SIZE.get(profile),
        seeds=study_seeds(benchmark, profile),
    )
    if width == 1.0:
        return plan

    def widen(configs: list[RunConfig]) -> list[RunConfig]:
        return [replace(c, model={**c.model, "width": width}) for c in configs]

    return replace(plan, ls_configs=widen(plan.ls_configs), stl_configs=widen(plan.stl_configs))


def capacity_configs(profile: str, device: str = "cpu") -> list[RunConfig]:
    """Every run of the capacity study at ``profile`` on the benchmarks it shows."""
    shown = book_benchmarks(require_data=False)
    return [
        c
        for b in CAPACITY_BENCHMARKS[profile]
        if b in shown
        for w in CAPACITY_WIDTHS[profile]
        for plan in [capacity_plan(b, profile, w, device)]
        for c in (*plan.ls_configs, *plan.stl_configs)
    ]


# The paper's "searched weights" (Tables 1-2): the best of 20 LS trials. Ours: 20 weight sets drawn
# uniformly on the simplex {w >= 0, sum w = K}, each trained on the profile's first seed and ranked by
# validation Δm (autoscale.experiments.selection); the winner is then trained on the other seeds, so
# that its test Δm is a mean over all seeds like every other row. The search costs 20 runs.
RANDOM_SEARCH_TRIALS: dict[str, int] = {"smoke": 3, "cpu": 20, "cpu-long": 20, "full": 20, "gpuday": 20}
# Fixes the draws of every benchmark and profile (the paper's arXiv number, 2508).
RANDOM_SEARCH_SEED = 2508


def random_weight_sets(num_tasks: int, trials: int, seed: int = RANDOM_SEARCH_SEED) -> list[list[float]]:
    """``trials`` distinct weight sets uniform on the simplex {w >= 0, sum w = K}: K times a
    Dirichlet(1, ..., 1) draw (numpy's seeded Generator), rounded to 0.01 (the precision the book
    prints) with the last entry taking up the rounding, so that each set sums to K exactly."""
    rng = np.random.default_rng(seed)
    sets: list[list[float]] = []
    while len(sets) < trials:
        w = np.round(num_tasks * rng.dirichlet(np.ones(num_tasks)), 2)
        w[-1] = round(num_tasks - float(w[:-1].sum()), 2)
        candidate = [float(v) for v in w]
        if min(candidate) >= 0 and candidate not in sets:
            sets.append(candidate)
    return sets


def random_search_groups(
    benchmark: str, profile: str, device: str = "cpu", store: RunStore | None = None
) -> dict[str, list[RunConfig]]:
    """The random search's runs: ``"trials"`` (one LS run per drawn weight set, on the profile's
    first seed) and, once the store holds every trial and the single-task runs, ``"chosen"``: the
    weight set with the lowest validation Δm on the profile's other seeds."""
    from autoscale.experiments.run_record import run_records
    from autoscale.experiments.selection import choose_on_validation

    plan = ls_sweep_plan(benchmark, profile, device=device)
    first, *others = plan.seeds
    sets = random_weight_sets(len(plan.task_names), RANDOM_SEARCH_TRIALS[profile])

    def ls(weights: list[float], seed: int) -> RunConfig:
        return profile_config(
            benchmark, profile, device=device, method="linear", seed=seed, method_options={"weights": weights}
        )

    groups = {"trials": [ls(w, first) for w in sets]}
    store = store or RunStore()
    trials = [store.load(c) for c in groups["trials"]]
    stl = [store.load(c) for c in plan.stl_configs]
    if all(r is not None for r in (*trials, *stl)):
        weights, _ = choose_on_validation(run_records(trials), run_records(stl))  # type: ignore[arg-type]
        groups["chosen"] = [ls(weights, seed) for seed in others]
    return groups


# The book's PBT searches (chapter "Searching the weights", Royer et al. 2023), trained by
# autoscale.experiments.pbt. PBT_SEED is the arXiv number of Royer et al. (2310.08910), as the random
# search uses 2508.
PBT_SEED = 2310


@dataclass(frozen=True)
class PBTConfig:
    """Everything that determines a PBT search (its hash names the result file)."""

    benchmark: str
    profile: str
    population: int = 8
    ready_epochs: int = 1
    epochs: int | None = None  # None: the profile's
    quantile: float = 0.25
    perturbation: float = 1.2
    seed: int = 0
    search_seed: int = PBT_SEED
    # A label, not part of the search's identity (like a run's device): the key leaves it out.
    device: str = "cpu"

    def key(self) -> str:
        identity = {k: v for k, v in asdict(self).items() if k != "device"}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


# Per profile, the population, matched to the other searches' budgets at cpu and full (grid 9 or 19
# sets x 3 seeds, random search 20 + 2 runs; PBT 8 members x 3 seeds = 24 runs); the ready interval
# gives about five exploit rounds per run.
BOOK_POPULATION: dict[str, int] = {"smoke": 4, "cpu": 8, "cpu-long": 8, "full": 8, "gpuday": 8}
EXPLOIT_ROUNDS = 5


def book_search_configs(benchmark: str, profile: str, device: str = "cpu") -> list[PBTConfig]:
    """The book's PBT searches of ``benchmark`` at ``profile``: one per seed of :func:`study_seeds`, with
    :data:`BOOK_POPULATION` members and a ready interval of max(1, epochs // EXPLOIT_ROUNDS) epochs."""
    epochs = profile_config(benchmark, profile, method="linear").epochs
    return [
        PBTConfig(
            benchmark,
            profile,
            population=BOOK_POPULATION[profile],
            ready_epochs=max(1, epochs // EXPLOIT_ROUNDS),
            seed=seed,
            device=device,
        )
        for seed in study_seeds(benchmark, profile)
    ]


def main_groups(
    benchmarks: Sequence[str], profile: str, device: str = "cpu", methods: Sequence[str] = TABLE_METHODS
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
    benchmarks: the single-task runs keyed (benchmark, "stl"), the rows (benchmark, ablation, value)."""
    check_profile(profile)
    groups: dict[tuple, list[RunConfig]] = {}
    for name, benchmarks in ABLATION_BENCHMARKS[profile].items():
        for b in (b for b in benchmarks if b in available):
            groups[b, "stl"] = ls_sweep_plan(b, profile, device=device).stl_configs
            groups.update({(b, name, value): c for value, c in ablation_configs(b, profile, name, device).items()})
    return groups


# Overrides of the MultiMNIST profile for this chapter's run. Metrics are logged every step at
# `smoke` (its run has only 8 steps); at `cpu` and `full` the run is the profile's own, so the
# linear-scalarization chapters' equal-weight record (seed 0) is reused from the run store.
METRIC_RUN_OVERRIDES: dict[str, dict[str, Any]] = {
    "smoke": {"metrics_every": 1},
    "cpu": {},
    "cpu-long": {},
    "full": {},
    "gpuday": {},
}


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


# Chapters (notebook names) in the book's order; the runtime chapter reads benchmark files only.
CHAPTERS = (
    "ls_multimnist",
    "mto_metrics",
    "ls_sweep",
    "main_results",
    "autoscale_walkthrough",
    "ablations",
    "window_count",
    "weight_search",
    "capacity",
    "verdict",
)


def book_benchmarks(require_data: bool = True) -> list[str]:
    """The benchmarks the chapters show, of ``CANDIDATE_BENCHMARKS``: those whose data is here.

    A real dataset (downloaded by the reader with ``data_scripts/download_*.py``) joins only when its
    data is present, whatever ``require_data`` says: the book's plan (:func:`chapter_configs`, and so
    ``records status`` and ``records train``) never lists runs that cannot train here, and on a
    machine without the downloads it is exactly the plan of the committed records. With the data,
    its runs join the plan at every profile and ``records train`` trains them. ``require_data=False``
    only skips the check for the offline benchmarks, whose data is generated on demand.
    """

    def shown(benchmark: str) -> bool:
        checked = require_data or declared_benchmark(benchmark).downloaded
        return not checked or has_data(benchmark)

    return [b for b in CANDIDATE_BENCHMARKS if shown(b)]


def chapter_configs(profile: str, device: str = "cpu", store: RunStore | None = None) -> dict[str, list[RunConfig]]:
    """Every chapter's runs at ``profile`` (each config once per chapter; chapters share runs). The
    random search's chosen weights join once ``store`` holds its trials (:func:`random_search_groups`)."""
    benchmarks = book_benchmarks(require_data=False)
    # run_main_results trains the random search beside the rows it is asked for, AutoScale's alone too.
    random = [c for b in benchmarks for cs in random_search_groups(b, profile, device, store).values() for c in cs]
    main = [*(c for configs in main_groups(benchmarks, profile, device).values() for c in configs), *random]
    autoscale_only = main_groups(benchmarks, profile, device, methods=["autoscale"]).values()
    ablations = [c for configs in ablation_groups(benchmarks, profile, device).values() for c in configs]
    plans = {b: ls_sweep_plan(b, profile, device=device) for b in benchmarks}
    window_study = [c for configs in window_study_groups(benchmarks, profile, device).values() for c in configs]
    capacity = capacity_configs(profile, device)
    plan = {
        "ls_multimnist": [*plans["multimnist"].ls_configs, *plans["multimnist"].stl_configs],
        "mto_metrics": [metric_run_config(profile, device)],
        "ls_sweep": [c for p in plans.values() for c in (*p.ls_configs, *p.stl_configs)],
        "main_results": main,
        "autoscale_walkthrough": [*(c for configs in autoscale_only for c in configs), *random],
        "ablations": ablations,
        "window_count": window_study,
        "weight_search": main,
        "capacity": capacity,
        "verdict": [*main, *ablations, *window_study, *capacity],
    }
    return {chapter: unique_configs(plan[chapter]) for chapter in CHAPTERS}


def chapter_searches(profile: str, device: str = "cpu") -> dict[str, list[PBTConfig]]:
    """The PBT searches each chapter runs at ``profile`` (chapters without searches are absent)."""
    benchmarks = book_benchmarks(require_data=False)
    return {"weight_search": [c for b in benchmarks for c in book_search_configs(b, profile, device)]}


def outside_chapter_plan(chapter: str, profile: str, store: RunStore) -> list[str]:
    """What ``store`` holds of ``profile`` beyond ``chapter``'s plan (runs, PBT searches), counted
    ("2 run(s)"); empty when everything in it is planned. A store filled by the chapter's notebook
    alone must give nothing: a chapter trains exactly its plan."""
    trained = {p.stem for p in store.record_paths(profile)}
    searched = {p.stem for p in store.search_paths(profile)}
    # The random search's chosen weights join the plan once its trials are in the store.
    planned = {config_hash(c) for c in chapter_configs(profile, store=store).get(chapter, [])}
    planned_searches = {c.key() for c in chapter_searches(profile).get(chapter, [])}
    extra = [f"{len(trained - planned)} run(s)"] if trained - planned else []
    return extra + ([f"{len(searched - planned_searches)} PBT search(es)"] if searched - planned_searches else [])


def book_configs(profile: str, device: str = "cpu", store: RunStore | None = None) -> list[RunConfig]:
    """Every run of the book at ``profile``, once (the random search's chosen weights as far as
    ``store`` resolves them)."""
    return unique_configs(c for configs in chapter_configs(profile, device, store).values() for c in configs)
