"""AutoScale: linear scalarization guided by multi-task optimisation metrics (arXiv 2508.13979).

A replication package in four layers, each depending only on the ones before it:

- the core, at the top of the package: MTO metrics (:mod:`autoscale.metrics`), the task-gradient
  Gramian (:mod:`autoscale.gramian`), weighting methods including AutoScale
  (:mod:`autoscale.methods`) and multi-task evaluation (:mod:`autoscale.evaluate`);
- :mod:`autoscale.training`: a run from its config to its record (datasets, tasks, models, trainer),
  beside :mod:`autoscale.benchmarks`, one declaration per benchmark (its dataset, tasks, model,
  profile settings and data source);
- :mod:`autoscale.experiments`: profiles, plans, the run store and the engines that fill it;
- :mod:`autoscale.book`: the tables, studies, verdicts and figures of the book;

plus :mod:`autoscale.bench` (speed) and :mod:`autoscale.commands` (the command line).

The names a user of the library needs are importable from here, e.g.
``from autoscale import AutoScale, build_method, compute_gramian``; they are loaded on first use,
so that ``import autoscale`` (and ``python -m autoscale --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "AutoScale": "autoscale.methods.autoscale",
    "solve_window": "autoscale.methods.window",
    "window_cost": "autoscale.methods.window",
    "predict": "autoscale.methods.predictors",
    "Weighting": "autoscale.methods.base",
    "build_method": "autoscale.methods.registry",
    "available_methods": "autoscale.methods.registry",
    "compute_gramian": "autoscale.gramian",
    "summarize_step": "autoscale.metrics",
    "delta_m": "autoscale.evaluate",
    "RunConfig": "autoscale.training.config",
    "train": "autoscale.training.trainer",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'autoscale' has no attribute {name!r}")
    module = importlib.import_module(_PUBLIC[name])
    if name in ("build_method", "available_methods"):
        importlib.import_module("autoscale.methods")  # registers every method
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted(__all__)
