"""What a benchmark is (:class:`Benchmark`) and how its data gets onto a machine (:class:`Offline`,
:class:`Download`).

Importing this module is cheap (no torch, numpy or scipy), and so is importing a declaration: the
command line builds its parser from them. Builders import what they build with when called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch; a declaration must not load it
    from torch.utils.data import Dataset

    from autoscale.training.models.base import MultiTaskModel
    from autoscale.training.tasks import Task


@dataclass(frozen=True)
class Offline:
    """Data made on this machine, from nothing or from a small source the package installs.

    ``prepare(root, profiles, workers)`` makes it ahead of the runs of ``profiles`` under the data
    root ``root`` (``data_scripts/prepare_data.py``, which ``make data`` runs); it must be
    incremental, as it runs again for every profile asked for. None: the dataset builds what it
    needs on first use.
    """

    prepare: Callable[[Path, Sequence[str], int], None] | None = None

    def present(self, root: Path) -> bool:
        return True


@dataclass(frozen=True)
class Download:
    """A real dataset that the user downloads: it lives in ``folder`` under the data root, whose
    presence means it has been downloaded, and ``command`` fetches it (``{root}``: the data root)."""

    folder: str
    command: str

    def present(self, root: Path) -> bool:
        return (root / self.folder).is_dir()


@dataclass(frozen=True)
class PowerTarget:
    """The smallest paired Δm difference the benchmark's tables should resolve, and the fewest seeds
    they may have whatever the power estimate says (:mod:`autoscale.book.power`)."""

    difference: float
    minimum_seeds: int


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: a dataset, the tasks learnt on it and the model that learns them, with the run
    settings of each profile and how its data is obtained.

    - ``dataset(root, split, **options)``: the ``split`` ("train", "val" or "test") under the data root
      ``root``; ``options`` are a run config's ``data``.
    - ``tasks(**options)``: its tasks (:class:`~autoscale.training.tasks.Task`), in the benchmark's order.
    - ``model(task_names, **options)``: the model with one head per task named; ``options`` are a run
      config's ``model``.
    - ``profiles``: per profile (``smoke``, ``cpu``, ...), the :class:`~autoscale.training.config.RunConfig`
      fields that differ from RunConfig's defaults; a profile absent here cannot run the benchmark.
    - ``source``: how its data gets onto a machine.
    - ``autoscale_window``: AutoScale's window τ per profile where the runs are too short for the paper's
      τ = 50 (:func:`autoscale.experiments.plans.autoscale_window`).
    - ``seeds``: the seeds of its tables per profile where they differ from the profile's rule
      (:data:`autoscale.experiments.profiles.SEED_RULES`).
    - ``power``: what its tables should resolve, for the benchmarks of the power estimate.

    Declared once, as a module-level ``NAME = Benchmark(name=..., ...)`` in a module of
    :mod:`autoscale.benchmarks` (the registry finds it there); everything else reads it from the registry.
    """

    name: str
    description: str
    dataset: Callable[..., Dataset]
    tasks: Callable[..., list[Task]]
    model: Callable[..., MultiTaskModel]
    profiles: Mapping[str, Mapping[str, Any]]
    source: Offline | Download
    autoscale_window: Mapping[str, int] = field(default_factory=dict)
    seeds: Mapping[str, int] = field(default_factory=dict)
    power: PowerTarget | None = None

    @property
    def downloaded(self) -> bool:
        """Whether its data is a real dataset the user downloads (:class:`Download`)."""
        return isinstance(self.source, Download)
