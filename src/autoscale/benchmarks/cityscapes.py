"""Real CityScapes in two settings (:mod:`autoscale.training.datasets.cityscapes`), downloaded by the user,
learnt by the dense models (:mod:`autoscale.training.models.dense`): ``cityscapes``, mtan's 2-task files
(no login), and ``cityscapes3``, the 3 tasks of the paper's Table 2 from the official files (an account at
cityscapes-dataset.com).

Their resolution is 128x256 (2700 train / 275 val / 500 test); the 3-task cache is built at 128x256, the
default, so the raw files may be deleted after the first conversion. The book's chapters add
``cityscapes3`` only when its data is present (:func:`autoscale.experiments.plans.book_benchmarks`).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoscale.benchmarks.declaration import Benchmark, Download

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from autoscale.training.models.base import MultiTaskModel
    from autoscale.training.tasks import Task

_MTAN_SOURCE = Download(
    folder="cityscapes", command="python data_scripts/download_cityscapes.py --layout mtan --root {root}"
)
_OFFICIAL_SOURCE = Download(
    folder="cityscapes3",
    command=(
        "python data_scripts/download_cityscapes.py --layout raw --root {root} --username USER "
        "(or --from-zips DIR with the zips downloaded from cityscapes-dataset.com)"
    ),
)


def _two_task_dataset(root: Path, split: str, **options: Any) -> Dataset:
    from autoscale.training.datasets.cityscapes import build_cityscapes

    return build_cityscapes(root / _MTAN_SOURCE.folder, split, _MTAN_SOURCE.command.format(root=root), **options)


def _three_task_dataset(root: Path, split: str, **options: Any) -> Dataset:
    from autoscale.training.datasets.cityscapes import build_cityscapes3

    hint = _OFFICIAL_SOURCE.command.format(root=root)
    return build_cityscapes3(root / _OFFICIAL_SOURCE.folder, split, hint, **options)


def _two_tasks(num_classes: int = 7) -> list[Task]:
    """MTAN's 2-task CityScapes: 7-class semantic segmentation (``label_7``) and depth."""
    from autoscale.training.tasks import SemanticTask, depth_task

    return [SemanticTask(num_classes), depth_task()]


def _three_tasks(num_classes: int = 19) -> list[Task]:
    """3-task CityScapes from the official layout: 19 evaluation classes, instance, disparity."""
    from autoscale.training.tasks import street_tasks

    return street_tasks(num_classes)


def _model(benchmark: str, task_names: list[str], **options: Any) -> MultiTaskModel:
    from autoscale.training.models.dense import benchmark_model

    return benchmark_model(benchmark, task_names, **options)


_PROFILES: dict[str, dict[str, Any]] = {
    # A few images, 4 steps: checks that the pipeline runs.
    "smoke": {
        "epochs": 1,
        "batch_size": 4,
        "metrics_every": 2,
        "data": {"sizes": {"train": 16, "val": 8, "test": 8}},
        "model": {"arch": "small"},
    },
    # The small CNN on subsets of the splits, 128 steps. On the 2-core reference machine a unitary run
    # of the 3-task CityScapes used 180 s of CPU time (both cores, the machine busy with other work);
    # the gradient-manipulating methods cost more (a backward pass per task). With its data present
    # each setting adds an hour or more to the cpu book on 2 cores (one seed: SEED_RULES).
    "cpu": {
        "epochs": 4,
        "batch_size": 8,
        "lr": 2e-3,
        "metrics_every": 8,
        "data": {"sizes": {"train": 256, "val": 64, "test": 128}},
        "model": {"arch": "small"},
    },
    # A GPU run of about 5000 steps with the dilated ResNet-18 at full resolution on every image, so
    # that AutoScale's exploration holds >= 20 windows of tau = 50 (alpha T >= 1000 steps), as for
    # MultiMNIST; otherwise gpuday's recipe.
    "full": {
        "epochs": 15,
        "batch_size": 8,
        "lr": 1e-4,
        "metrics_every": 25,
        "model": {"arch": "resnet18"},
    },
    # The paper's setup (App. D) with our dilated ResNet-50 encoder (random init; the DeepLab-ResNet-50
    # of MTAN / LibMTL, the nearest of our models to the paper's PSPNet and TaskPrompter): 100 epochs,
    # Adam lr 1e-4, batch 8 (33.8k steps; the paper's 37k iterations on the full 2975 training
    # images), no schedule stated, hence none.
    "gpuday": {
        "epochs": 100,
        "batch_size": 8,
        "lr": 1e-4,
        "metrics_every": 25,
        "model": {"arch": "resnet50"},
    },
}
# Not run in the paper's regime on CPU (1000 steps would take hours a run on 2 cores): cpu-long keeps
# the cpu settings.
_PROFILES["cpu-long"] = _PROFILES["cpu"]
# The cpu runs are 128 steps: α T = 25, six windows of τ = 4.
_AUTOSCALE_WINDOW = {"smoke": 1, "cpu": 4, "cpu-long": 4}

CITYSCAPES = Benchmark(
    name="cityscapes",
    description="CityScapes, mtan's files (downloaded): 7-class semantic segmentation, depth (2 tasks); dense model",
    dataset=_two_task_dataset,
    tasks=_two_tasks,
    model=partial(_model, "cityscapes"),
    profiles=_PROFILES,
    source=_MTAN_SOURCE,
    autoscale_window=_AUTOSCALE_WINDOW,
)
CITYSCAPES3 = Benchmark(
    name="cityscapes3",
    description="CityScapes, official files (downloaded): semantics, instances, disparity (3 tasks); dense model",
    dataset=_three_task_dataset,
    tasks=_three_tasks,
    model=partial(_model, "cityscapes3"),
    profiles=_PROFILES,
    source=_OFFICIAL_SOURCE,
    autoscale_window=_AUTOSCALE_WINDOW,
)
