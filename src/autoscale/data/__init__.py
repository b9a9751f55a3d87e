"""Datasets of the benchmarks; ``build_dataset(benchmark, split, root=None, **options)``.

Every dataset yields ``(input tensor, {task name: target tensor})``.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from autoscale.paths import data_root
from autoscale.registry import Registry

DATASETS: Registry = Registry("benchmark")


@DATASETS.register("multimnist")
def _multimnist(root, split: str, **options: Any) -> Dataset:
    from autoscale.data.multimnist import MultiDigitDataset

    return MultiDigitDataset(root, split, variant="multimnist", **options)


@DATASETS.register("multifashion")
def _multifashion(root, split: str, **options: Any) -> Dataset:
    from autoscale.data.multimnist import MultiDigitDataset

    return MultiDigitDataset(root, split, variant="multifashion", **options)


def build_dataset(benchmark: str, split: str, root: str | None = None, **options: Any) -> Dataset:
    """The ``split`` ("train", "val" or "test") of ``benchmark``, read from the data root."""
    return DATASETS[benchmark](data_root(root), split, **options)


__all__ = ["DATASETS", "build_dataset"]
