"""Small models shared by several test modules (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

from torch import nn


def small_cnn() -> nn.Module:
    """A two-conv encoder with BatchNorm for 1x12x12 inputs; representation (B, 8)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 3 * 3, 8),
    )
