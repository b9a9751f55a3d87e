"""Shared encoders and task heads; ``build_model(benchmark, task_names, **options)``."""

from __future__ import annotations

from typing import Any

from autoscale.training.models.base import MultiTaskModel
from autoscale.training.models.dense import dense_model
from autoscale.training.models.lenet import multilenet
from autoscale.training.registry import Registry
from autoscale.training.tasks import build_tasks

MODELS: Registry = Registry("benchmark")


@MODELS.register("multimnist", "multifashion")
def _digit_pair_model(
    task_names: list[str], arch: str = "multilenet", dropout: float = 0.0, width: float = 1.0
) -> MultiTaskModel:
    if arch != "multilenet":
        raise ValueError(f"unknown architecture {arch!r} for MultiMNIST; available: multilenet")
    return multilenet(task_names, dropout=dropout, width=width)


def _register_dense(benchmark: str) -> None:
    """Dense benchmarks: head channels come from the task definitions (``Task.out_channels``)."""

    def build(
        task_names: list[str],
        arch: str = "small",
        pretrained: str | None = None,
        num_classes: int | None = None,
        width: float = 1.0,
    ) -> MultiTaskModel:
        # num_classes must match the one given to build_tasks; None keeps the benchmark's default
        task_options = {} if num_classes is None else {"num_classes": num_classes}
        tasks = build_tasks(benchmark, task_names, **task_options)
        return dense_model({t.name: t.out_channels for t in tasks}, arch=arch, pretrained=pretrained, width=width)

    MODELS.register(benchmark)(build)


for _benchmark in ("scenes-indoor", "scenes-street", "nyuv2", "cityscapes", "cityscapes3"):
    _register_dense(_benchmark)


def build_model(benchmark: str, task_names: list[str], **options: Any) -> MultiTaskModel:
    """The model of ``benchmark`` with one head per name in ``task_names``."""
    return MODELS[benchmark](task_names, **options)


__all__ = ["MODELS", "MultiTaskModel", "build_model"]
