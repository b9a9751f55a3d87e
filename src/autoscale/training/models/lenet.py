"""MultiLeNet of Sener & Koltun (2018), the MultiMNIST model of their official code.

Encoder: conv(1→10, 5) → max-pool 2 → ReLU → conv(10→20, 5) → max-pool 2 → ReLU → (dropout) →
linear(320→50) → ReLU. Each head: linear(50→50) → ReLU → (dropout) → linear(50→10).
"""

from __future__ import annotations

from torch import Tensor, nn

from autoscale.training.models.base import MultiTaskModel


class MultiLeNetEncoder(nn.Module):
    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 10, kernel_size=5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(10, 20, kernel_size=5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Dropout2d(dropout),
            nn.Flatten(),
            nn.Linear(320, 50),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)


def multilenet_head(num_classes: int = 10, dropout: float = 0.0) -> nn.Module:
    return nn.Sequential(nn.Linear(50, 50), nn.ReLU(), nn.Dropout(dropout), nn.Linear(50, num_classes))


def multilenet(task_names: list[str], dropout: float = 0.0) -> MultiTaskModel:
    """MultiLeNet with one 10-way head per task name."""
    return MultiTaskModel(MultiLeNetEncoder(dropout), {t: multilenet_head(10, dropout) for t in task_names})
