"""Shared encoders and task heads; ``build_model(benchmark, task_names, **options)``."""

from __future__ import annotations

from typing import Any

from autoscale.benchmarks import benchmark as declared_benchmark
from autoscale.training.models.base import MultiTaskModel


def build_model(benchmark: str, task_names: list[str], **options: Any) -> MultiTaskModel:
    """The model of ``benchmark`` with one head per name in ``task_names``."""
    return declared_benchmark(benchmark).model(task_names, **options)


__all__ = ["MultiTaskModel", "build_model"]
