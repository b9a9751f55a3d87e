"""Cheap Gramians for AutoScale's exploration phase: how far do they move its weights and Δm?

``python -m autoscale.bench --cheap-study`` trains short AutoScale runs (IMTL-G exploration,
α = 0.2, Equal |g|, L.E. at γ = 0.5) on MultiMNIST with every Gramian mode of
:func:`autoscale.gramian.parse_gramian_mode` and the same seeds, plus single-task runs for Δm.
Per mode and seed it compares the predicted LS weights ŵ with those of the exact-Gramian run of the
same seed (same initialisation and data order, so the mode is the only difference):

    d(mode, seed) = ||ŵ_mode - ŵ_exact|| / ||ŵ_exact||.

*Seed noise* is the same relative distance between the exact runs of two different seeds (mean over
pairs). A cheap mode qualifies as a default when its mean distance is within seed noise, i.e.
it moves ŵ less than re-running with another seed does. Δm (the paper's Sec. 5) is reported on the test
split against the single-task runs, mean and standard deviation over seeds.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from autoscale.evaluate import delta_m, directions, primary_metrics, single_task_baseline
from autoscale.training.config import RunConfig
from autoscale.training.trainer import train

MODES = ("exact", "last_layer", "representation", "every:4")
SEEDS = (0, 1, 2)
# 15 epochs of 40 steps: T = 600, 120 exploration steps in 4 windows of τ = 30.
STUDY = {"epochs": 15, "batch_size": 256, "lr": 1e-3, "data": {"sizes": {"train": 10_240, "val": 1_000, "test": 2_000}}}
QUICK_STUDY = {"epochs": 3, "batch_size": 64, "lr": 1e-3, "data": {"sizes": {"train": 1_280, "val": 256, "test": 256}}}
AUTOSCALE = {"alpha": 0.2, "window": 30}
QUICK_AUTOSCALE = {"alpha": 0.2, "window": 12}


def relative_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b||."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def run_study(
    device: str = "cpu", quick: bool = False, modes: tuple[str, ...] = MODES, seeds: tuple[int, ...] = SEEDS
) -> dict[str, Any]:
    """Train the study's runs and summarise them (JSON-serialisable; the module docstring)."""
    started = time.perf_counter()
    base = dict(QUICK_STUDY if quick else STUDY, benchmark="multimnist", device=device)
    options = QUICK_AUTOSCALE if quick else AUTOSCALE
    weights: dict[str, dict[int, np.ndarray]] = {m: {} for m in modes}
    results: dict[str, list[dict]] = {m: [] for m in modes}
    seconds: dict[str, list[float]] = {m: [] for m in modes}
    for seed, mode in itertools.product(seeds, modes):
        record = train(
            RunConfig(method="autoscale", method_options=options, gramian=mode, seed=seed, **base), progress=False
        )
        weights[mode][seed] = np.asarray(record["method"]["final_weights"])
        results[mode].append(record)
        seconds[mode].append(sum(record["steps"]["time_s"]))
    stl = [
        train(RunConfig(method="unitary", tasks=[task], seed=seed, **base), progress=False)
        for seed in seeds
        for task in ("left", "right")
    ]
    baseline = single_task_baseline(stl)
    higher = directions(stl)
    exact = weights["exact"]
    noise = [relative_distance(exact[a], exact[b]) for a, b in itertools.combinations(seeds, 2)]
    summary: dict[str, Any] = {}
    for mode in modes:
        dm = [delta_m(primary_metrics(r), baseline, higher) for r in results[mode]]
        dist = [relative_distance(weights[mode][s], exact[s]) for s in seeds]
        summary[mode] = {
            "final_weights": {str(s): weights[mode][s].tolist() for s in seeds},
            "distance_to_exact": dist,
            "distance_mean": float(np.mean(dist)),
            "delta_m": dm,
            "delta_m_mean": float(np.mean(dm)),
            "delta_m_std": float(np.std(dm, ddof=1)) if len(dm) > 1 else 0.0,
            "train_step_seconds": float(np.mean(seconds[mode])),
        }
    seed_noise = float(np.mean(noise)) if noise else float("nan")
    within = [m for m in modes if m != "exact" and summary[m]["distance_mean"] <= seed_noise]
    return {
        "benchmark": "multimnist",
        "config": {**base, "method": "autoscale", "method_options": options, "seeds": list(seeds)},
        "total_steps": results["exact"][0]["total_steps"],
        "single_task_baseline": baseline,
        "seed_noise": seed_noise,
        "modes": summary,
        "within_seed_noise": within,
        "wall_s": time.perf_counter() - started,
    }
