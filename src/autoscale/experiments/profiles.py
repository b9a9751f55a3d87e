"""Profiles: per benchmark, the run settings of ``smoke``, ``cpu``, ``cpu-long``, ``full`` and ``gpuday``.

``cpu-long`` is the paper's regime on 2 CPU cores: every run is at least 1000 steps, so that AutoScale at
the paper's α = 0.2 explores at least 200 steps in at least 20 windows (τ = 10, see
:data:`autoscale.experiments.plans.AUTOSCALE_WINDOW`); the seed counts were fixed before its runs were
trained (:data:`SEED_RULES`). ``cpu`` stays as the short setting (AutoScale explores 60 to 160 steps
in six windows), which the window-count chapter reports as a finding of its own.

Importing this module is cheap (no torch, numpy or scipy): the command line reads the benchmark and
profile names from it to build its parser, and ``python -m autoscale --help`` must answer at once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autoscale.training.config import RunConfig

PROFILES = ("smoke", "cpu", "cpu-long", "full", "gpuday")
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
        # 4 epochs of 8000 images at batch 32: 1000 steps (α T = 200 steps, 20 windows of τ = 10) at a
        # third of the cpu run's cost on 2 cores (16 s against 47 s for unitary, one core each).
        "cpu-long": {
            "epochs": 4,
            "batch_size": 32,
            "metrics_every": 25,
            "data": {"sizes": {"train": 8_000, "val": 2_000, "test": 5_000}},
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
# tiers (autoscale.commands.gpu_session) and AutoScale's exploration holds >= 20 windows of tau = 50
# (alpha T >= 1000 steps); ``gpuday`` is the heavy setting (ResNet-18 at 128x160) for a GPU-day.
PROFILE_SETTINGS["multimnist"]["gpuday"] = copy.deepcopy(PROFILE_SETTINGS["multimnist"]["full"])
# Procedural scenes: image size and split sizes come from the data profile (SCENE_SIZES in
# autoscale.training.datasets.scene_datasets); the small CNN at cpu and full (64x80, 250 steps per epoch,
# 5000 steps), a dilated ResNet-18 at gpuday.
# The scenes' learning rate at cpu-long (batch 4), chosen on validation (unitary, seed 0), 2e-3 against
# 1e-3: street semantic mIoU 58.4 / 58.0, instance L1 0.81 / 0.85; indoor depth abs 0.672 / 0.687, edge L1
# 0.175 / 0.188, normal mean angle 26.2 / 26.5 degrees.
CPU_LONG_SCENE_LR = 2e-3
for _kind in ("scenes-street", "scenes-indoor"):
    PROFILE_SETTINGS[_kind] = {
        "smoke": {
            "epochs": 1,
            "batch_size": 8,
            "metrics_every": 2,
            "data": {"profile": "smoke"},
            "model": {"arch": "small"},
        },
        # 4 epochs of 1200 scenes at batch 16: 300 steps (AutoScale explores 6 windows of tau = 10),
        # about 40% cheaper than 8 epochs at batch 32 (the same step count), so that three seeds fit
        # the cpu book's budget. Chosen on validation (unitary, seed 0): street semantic mIoU 58.4 /
        # 56.3 / 59.6 for lr 2e-3 / 1e-3 at batch 16 and the old setting; indoor 52.6 / 46.5 / 59.4.
        "cpu": {
            "epochs": 4,
            "batch_size": 16,
            "lr": 2e-3,
            "metrics_every": 20,
            "data": {"profile": "cpu"},
            "model": {"arch": "small"},
        },
        # The cpu scenes at 32x48 (the same scenes, rendered smaller) at batch 4: 4 epochs of 1200 scenes
        # are 1200 steps (α T = 240 steps, 24 windows of τ = 10), 25-46 s a run on one core.
        "cpu-long": {
            "epochs": 4,
            "batch_size": 4,
            "lr": CPU_LONG_SCENE_LR,
            "metrics_every": 25,
            "data": {"profile": "cpu", "height": 32, "width": 48},
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

# Real datasets, downloaded by the reader (data_scripts/download_nyuv2.py, download_cityscapes.py);
# the book's chapters add them only when their data is present (autoscale.experiments.plans.book_benchmarks).
# Their resolutions are fixed by the data: NYUv2 288x384 (mtan's files; 700 train / 95 val held out of
# mtan's train, 654 test), CityScapes 128x256 (2700 train / 275 val / 500 test; the 3-task cache is
# built at 128x256, the default, so the raw files may be deleted after the first conversion).
#
# - smoke: a few images, 4 steps; checks that the pipeline runs.
# - cpu: the small CNN on subsets of the splits, 96 (NYUv2) and 128 (CityScapes) steps. On the 2-core
#   reference machine a unitary run of the 3-task CityScapes used 180 s of CPU time (both cores, the
#   machine busy with other work), one of NYUv2 (4 tasks at 288x384, 96 steps) 170 s; the
#   gradient-manipulating methods cost more (a backward pass per task). With its data present, each
#   real dataset adds an hour or more to the cpu book on 2 cores (one seed: SEED_RULES).
# - full: a GPU run of about 5000 steps with the dilated ResNet-18 at full resolution on every image,
#   so that AutoScale's exploration holds >= 20 windows of tau = 50 (alpha T >= 1000 steps), as for
#   MultiMNIST; otherwise gpuday's recipe.
# - gpuday: the paper's setups (App. D) with our dilated ResNet-50 encoder (random init; the
#   DeepLab-ResNet-50 of MTAN / LibMTL, the nearest of our models to the paper's PSPNet and
#   TaskPrompter). CityScapes: 100 epochs, Adam lr 1e-4, batch 8 (33.8k steps; the paper's 37k
#   iterations on the full 2975 training images), no schedule stated, hence none. NYUv2: 40k
#   iterations at batch 2 (114 epochs of 350 steps), lr 1e-3, weight decay 1e-6, a polynomial
#   decay in the paper for which we take the cosine schedule (also decays to 0 at the end), and
#   the community's scale-crop-flip augmentation (700 images over 114 epochs).
PROFILE_SETTINGS["nyuv2"] = {
    "smoke": {
        "epochs": 1,
        "batch_size": 2,
        "metrics_every": 2,
        "data": {"sizes": {"train": 8, "val": 4, "test": 4}},
        "model": {"arch": "small"},
    },
    "cpu": {
        "epochs": 4,
        "batch_size": 4,
        "lr": 2e-3,
        "metrics_every": 8,
        "data": {"sizes": {"train": 96, "val": 32, "test": 96}},
        "model": {"arch": "small"},
    },
    "full": {
        "epochs": 15,
        "batch_size": 2,
        "lr": 1e-3,
        "weight_decay": 1e-6,
        "metrics_every": 25,
        "data": {"augment": True},
        "model": {"arch": "resnet18"},
        "scheduler": "cosine",
    },
    "gpuday": {
        "epochs": 114,
        "batch_size": 2,
        "lr": 1e-3,
        "weight_decay": 1e-6,
        "metrics_every": 25,
        "data": {"augment": True},
        "model": {"arch": "resnet50"},
        "scheduler": "cosine",
    },
}
for _kind in ("cityscapes", "cityscapes3"):
    PROFILE_SETTINGS[_kind] = {
        "smoke": {
            "epochs": 1,
            "batch_size": 4,
            "metrics_every": 2,
            "data": {"sizes": {"train": 16, "val": 8, "test": 8}},
            "model": {"arch": "small"},
        },
        "cpu": {
            "epochs": 4,
            "batch_size": 8,
            "lr": 2e-3,
            "metrics_every": 8,
            "data": {"sizes": {"train": 256, "val": 64, "test": 128}},
            "model": {"arch": "small"},
        },
        "full": {
            "epochs": 15,
            "batch_size": 8,
            "lr": 1e-4,
            "metrics_every": 25,
            "model": {"arch": "resnet18"},
        },
        "gpuday": {
            "epochs": 100,
            "batch_size": 8,
            "lr": 1e-4,
            "metrics_every": 25,
            "model": {"arch": "resnet50"},
        },
    }
# The real datasets are not run in the paper's regime on CPU (1000 steps of NYUv2 at 288x384 would take
# hours a run on 2 cores): at cpu-long they keep their cpu settings.
for _real in ("nyuv2", "cityscapes", "cityscapes3"):
    PROFILE_SETTINGS[_real]["cpu-long"] = copy.deepcopy(PROFILE_SETTINGS[_real]["cpu"])
DENSE_BENCHMARKS = ("scenes-street", "scenes-indoor", "nyuv2", "cityscapes", "cityscapes3")
# The real datasets keep one seed at cpu: their runs cost minutes each there, and they add an hour
# or more to the cpu book on 2 cores when their data is present.
REAL_DATA_BENCHMARKS = ("nyuv2", "cityscapes", "cityscapes3")


@dataclass(frozen=True)
class SeedRule:
    """How many seeds a profile's runs use: ``tables`` for the main tables, the LS sweeps and the
    ablations (``per_benchmark`` where a benchmark differs), ``real_data`` on the real datasets
    (their runs cost minutes each on a CPU), and at most ``studies`` for the studies beyond the
    paper's tables (the capacity study and the PBT searches; None: the tables' count). Seeds are
    always 0, 1, ..., n - 1, so a profile with more seeds reuses the runs of one with fewer."""

    tables: int
    per_benchmark: dict[str, int] = field(default_factory=dict)
    real_data: int | None = None
    studies: int | None = None

    def tables_for(self, benchmark: str) -> int:
        if self.real_data is not None and benchmark in REAL_DATA_BENCHMARKS:
            return self.real_data
        return self.per_benchmark.get(benchmark, self.tables)


# Three seeds everywhere but at smoke, so that every comparison of the book is paired over >= 3 seeds;
# the real datasets keep one seed on a CPU (they add an hour or more to the cpu book on 2 cores).
# cpu-long's counts were fixed before its runs were trained, from the power estimate on the cpu
# records' seed-to-seed spreads (autoscale.book.power; frozen in autoscale/book/reference/power_estimate.json):
# 11 seeds resolve a paired difference of 0.5 Δm on MultiMNIST with power 0.8 at the 5% level. The
# scenes would need 17 (street) and 10 (indoor) for 2 Δm; the 5-hour budget of a from-scratch cpu-long
# book on 2 cores affords 5, the floor, and the book states the difference 5 seeds resolve.
# Its studies beyond the paper's tables keep three seeds.
SEED_RULES: dict[str, SeedRule] = {
    "smoke": SeedRule(1),
    "cpu": SeedRule(3, real_data=1),
    "cpu-long": SeedRule(
        3,
        per_benchmark={"multimnist": 11, "multifashion": 11, "scenes-street": 5, "scenes-indoor": 5},
        real_data=1,
        studies=3,
    ),
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
    return list(range(SEED_RULES[profile].tables_for(benchmark)))


def study_seeds(benchmark: str, profile: str) -> list[int]:
    """Seeds of the capacity study and the PBT searches (:attr:`SeedRule.studies`)."""
    studies = SEED_RULES[profile].studies
    return profile_seeds(benchmark, profile)[:studies]


def ls_sweep_size(profile: str, num_tasks: int) -> int:
    """Number of fixed weight sets of a linear-scalarization sweep of ``num_tasks`` tasks at ``profile``."""
    two, more = LS_SWEEP_SIZE[profile]
    return two if num_tasks == 2 else more


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
    from autoscale.training.config import RunConfig

    fields = copy.deepcopy(PROFILE_SETTINGS[benchmark][profile])
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
