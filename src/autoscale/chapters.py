"""Which runs each chapter of the book reads: the book's plan, per profile.

The notebooks ask the run store for these runs (training what is missing); ``python -m autoscale
records`` uses the same plan to say, per chapter and benchmark, what the store holds, and to train
everything missing in one batch before the notebooks run (so that the notebooks train nothing).
"""

from __future__ import annotations

from autoscale.datasets import has_data
from autoscale.experiments import PROFILE_SETTINGS, RunConfig, ls_sweep_plan, unique_configs
from autoscale.inspect_gradients import metric_run_config
from autoscale.results import ablation_groups, main_groups

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
