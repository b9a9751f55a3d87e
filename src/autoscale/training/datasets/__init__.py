"""Datasets of the benchmarks; ``build_dataset(benchmark, split, root=None, **options)``.

Every dataset yields ``(input tensor, {task name: target tensor})``. Dense benchmarks (scenes-indoor,
scenes-street, nyuv2, cityscapes, cityscapes3) yield an image (3,H,W) float32 in [0, 1] and the targets
described in :mod:`autoscale.training.datasets.mtan`. Each benchmark's builder is declared with it
(:mod:`autoscale.benchmarks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autoscale.benchmarks import benchmark as declared_benchmark
from autoscale.training.paths import data_root

if TYPE_CHECKING:
    from torch.utils.data import Dataset


def has_data(benchmark: str, root: str | None = None) -> bool:
    """Whether ``benchmark`` can be built here: always for the offline benchmarks, and for the
    real datasets when their folder exists under the data root (see data_scripts/download_*.py)."""
    return declared_benchmark(benchmark).source.present(data_root(root))


def build_dataset(benchmark: str, split: str, root: str | None = None, **options: Any) -> Dataset:
    """The ``split`` ("train", "val" or "test") of ``benchmark``, read from the data root."""
    return declared_benchmark(benchmark).dataset(data_root(root), split, **options)


__all__ = ["build_dataset", "has_data"]
