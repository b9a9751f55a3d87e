"""Datasets of the benchmarks; ``build_dataset(benchmark, split, root=None, **options)``.

Every dataset yields ``(input tensor, {task name: target tensor})``. Dense benchmarks (scenes-indoor,
scenes-street, nyuv2, cityscapes, cityscapes3) yield an image (3,H,W) float32 in [0, 1] and the targets
described in :mod:`autoscale.training.datasets.mtan`.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from autoscale.training.paths import data_root
from autoscale.training.registry import Registry

DATASETS: Registry = Registry("benchmark")


@DATASETS.register("multimnist")
def _multimnist(root, split: str, **options: Any) -> Dataset:
    from autoscale.training.datasets.multimnist import MultiDigitDataset

    return MultiDigitDataset(root, split, variant="multimnist", **options)


@DATASETS.register("multifashion")
def _multifashion(root, split: str, **options: Any) -> Dataset:
    from autoscale.training.datasets.multimnist import MultiDigitDataset

    return MultiDigitDataset(root, split, variant="multifashion", **options)


@DATASETS.register("scenes-indoor")
def _scenes_indoor(root, split: str, **options: Any) -> Dataset:
    from autoscale.training.datasets.scene_datasets import build_scenes

    return build_scenes(root, "indoor", split, **options)


@DATASETS.register("scenes-street")
def _scenes_street(root, split: str, **options: Any) -> Dataset:
    from autoscale.training.datasets.scene_datasets import build_scenes

    return build_scenes(root, "street", split, **options)


@DATASETS.register("nyuv2")
def _nyuv2(root, split: str, **options: Any) -> Dataset:
    from autoscale.training.datasets.nyuv2 import build_nyuv2

    return build_nyuv2(root, split, **options)


@DATASETS.register("cityscapes")
def _cityscapes(root, split: str, **options: Any) -> Dataset:
    from autoscale.training.datasets.cityscapes import build_cityscapes

    return build_cityscapes(root, split, **options)


@DATASETS.register("cityscapes3")
def _cityscapes3(root, split: str, **options: Any) -> Dataset:
    from autoscale.training.datasets.cityscapes import build_cityscapes3

    return build_cityscapes3(root, split, **options)


# Real datasets users download themselves: the folder whose presence means "downloaded".
REAL_DATA_FOLDERS = {"nyuv2": "nyuv2", "cityscapes": "cityscapes", "cityscapes3": "cityscapes3"}


def has_data(benchmark: str, root: str | None = None) -> bool:
    """Whether ``benchmark`` can be built here: always for the offline benchmarks, and for the
    real datasets when their folder exists under the data root (see data_scripts/download_*.py)."""
    DATASETS[benchmark]  # unknown names raise, listing the valid ones
    folder = REAL_DATA_FOLDERS.get(benchmark)
    return folder is None or (data_root(root) / folder).is_dir()


def build_dataset(benchmark: str, split: str, root: str | None = None, **options: Any) -> Dataset:
    """The ``split`` ("train", "val" or "test") of ``benchmark``, read from the data root."""
    return DATASETS[benchmark](data_root(root), split, **options)


__all__ = ["DATASETS", "build_dataset", "has_data"]
