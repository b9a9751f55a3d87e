"""The benchmarks, each declared once (:class:`~autoscale.benchmarks.declaration.Benchmark`), found by name.

A module of this package declares a benchmark family: its datasets, tasks, models, profile settings
and data sources, as module-level ``Benchmark`` instances. The registry imports every module of the
package (they are cheap: no torch) and collects them; so adding a benchmark is adding its declaration,
in a new module or beside its family's, and the dataset, task and model lookups of the training layer,
the profiles, the plans and the command line all read it from here.

The modules are imported by name (``importlib``), not by import statements: a run's code fingerprint
(:mod:`autoscale.experiments.fingerprint`) follows import statements, and takes only its own
benchmark's declaration module (:func:`declaration_module`).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from autoscale.benchmarks.declaration import Benchmark, Download, Offline, PowerTarget


@cache
def _declared() -> dict[str, tuple[Benchmark, str]]:
    """Every declared benchmark by name, with the module that declares it."""
    found: dict[str, tuple[Benchmark, str]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if not isinstance(value, Benchmark):
                continue
            # The same declaration under two names of its module is one declaration.
            prior, where = found.get(value.name, (value, module.__name__))
            if prior is not value or where != module.__name__:
                raise ValueError(f"benchmark {value.name!r} is declared twice: in {where} and {module.__name__}")
            found[value.name] = (value, module.__name__)
    return dict(sorted(found.items()))


def benchmark_names() -> list[str]:
    """The names of the declared benchmarks, sorted."""
    return list(_declared())


def benchmarks() -> list[Benchmark]:
    """Every declared benchmark, sorted by name."""
    return [declared for declared, _ in _declared().values()]


def _lookup(name: str) -> tuple[Benchmark, str]:
    try:
        return _declared()[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; valid benchmarks: {', '.join(benchmark_names())}") from None


def benchmark(name: str) -> Benchmark:
    """The declaration of benchmark ``name``; unknown names raise a ValueError listing the valid ones."""
    return _lookup(name)[0]


def declaration_module(name: str) -> str:
    """The module that declares benchmark ``name`` (``autoscale.benchmarks.<family>``)."""
    return _lookup(name)[1]


__all__ = [
    "Benchmark",
    "Download",
    "Offline",
    "PowerTarget",
    "benchmark",
    "benchmark_names",
    "benchmarks",
    "declaration_module",
]
