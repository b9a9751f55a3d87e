"""Real NYUv2, 4 tasks (:mod:`autoscale.training.datasets.nyuv2`), downloaded by the user, learnt by the
dense models (:mod:`autoscale.training.models.dense`).

Its resolution is fixed by the data: 288x384 (mtan's files; 700 train / 95 val held out of mtan's
train, 654 test). The book's chapters add it only when its data is present
(:func:`autoscale.experiments.plans.book_benchmarks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoscale.benchmarks.declaration import Benchmark, Download

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from autoscale.training.models.base import MultiTaskModel
    from autoscale.training.tasks import Task

_SOURCE = Download(folder="nyuv2", command="python data_scripts/download_nyuv2.py --root {root}")


def _dataset(root: Path, split: str, **options: Any) -> Dataset:
    from autoscale.training.datasets.nyuv2 import build_nyuv2

    return build_nyuv2(root / _SOURCE.folder, split, _SOURCE.command.format(root=root), **options)


def _tasks(num_classes: int = 13) -> list[Task]:
    """13 classes: the NYUv2 label set of MTAN's preprocessed data."""
    from autoscale.training.tasks import indoor_tasks

    return indoor_tasks(num_classes)


def _model(task_names: list[str], **options: Any) -> MultiTaskModel:
    from autoscale.training.models.dense import benchmark_model

    return benchmark_model("nyuv2", task_names, **options)


_PROFILES: dict[str, dict[str, Any]] = {
    # A few images, 4 steps: checks that the pipeline runs.
    "smoke": {
        "epochs": 1,
        "batch_size": 2,
        "metrics_every": 2,
        "data": {"sizes": {"train": 8, "val": 4, "test": 4}},
        "model": {"arch": "small"},
    },
    # The small CNN on subsets of the splits, 96 steps. On the 2-core reference machine a unitary run
    # (4 tasks at 288x384) used 170 s of CPU time (both cores, the machine busy with other work); the
    # gradient-manipulating methods cost more (a backward pass per task). With its data present it adds
    # an hour or more to the cpu book on 2 cores (one seed: SEED_RULES).
    "cpu": {
        "epochs": 4,
        "batch_size": 4,
        "lr": 2e-3,
        "metrics_every": 8,
        "data": {"sizes": {"train": 96, "val": 32, "test": 96}},
        "model": {"arch": "small"},
    },
    # A GPU run of about 5000 steps with the dilated ResNet-18 at full resolution on every image, so
    # that AutoScale's exploration holds >= 20 windows of tau = 50 (alpha T >= 1000 steps), as for
    # MultiMNIST; otherwise gpuday's recipe.
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
    # The paper's setup (App. D) with our dilated ResNet-50 encoder (random init; the DeepLab-ResNet-50
    # of MTAN / LibMTL, the nearest of our models to the paper's PSPNet and TaskPrompter): 40k
    # iterations at batch 2 (114 epochs of 350 steps), lr 1e-3, weight decay 1e-6, a polynomial decay
    # in the paper for which we take the cosine schedule (also decays to 0 at the end), and the
    # community's scale-crop-flip augmentation (700 images over 114 epochs).
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
# Not run in the paper's regime on CPU (1000 steps at 288x384 would take hours a run on 2 cores):
# cpu-long keeps the cpu settings.
_PROFILES["cpu-long"] = _PROFILES["cpu"]

NYUV2 = Benchmark(
    name="nyuv2",
    description="NYUv2, mtan's files (downloaded): semantics, depth, normals, edges (4 tasks); dense model",
    dataset=_dataset,
    tasks=_tasks,
    model=_model,
    profiles=_PROFILES,
    source=_SOURCE,
    # The cpu runs are 96 steps: α T = 19, six windows of τ = 3.
    autoscale_window={"smoke": 1, "cpu": 3, "cpu-long": 3},
)
