"""MultiLeNet of Sener & Koltun (2018), the MultiMNIST model of their official code.

Encoder: conv(1→10, 5) → max-pool 2 → ReLU → conv(10→20, 5) → max-pool 2 → ReLU → (dropout) →
linear(320→50) → ReLU. Each head: linear(50→50) → ReLU → (dropout) → linear(50→10).

``width`` multiplies every hidden width (10, 20, 50 → round(10·width), ...), the capacity axis of
the scalarization-at-scale study (Royer et al. 2023 vary model width the same way); width 1 is the
original model, built in the same order (so the same seed gives the same initial weights).
"""

from __future__ import annotations

from torch import Tensor, nn

from autoscale.training.models.base import MultiTaskModel, scaled


class MultiLeNetEncoder(nn.Module):
    def __init__(self, dropout: float = 0.0, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, hidden = scaled(10, width), scaled(20, width), scaled(50, width)
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(c1, c2, kernel_size=5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Dropout2d(dropout),
            nn.Flatten(),
            nn.Linear(c2 * 16, hidden),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)


def multilenet_head(num_classes: int = 10, dropout: float = 0.0, width: float = 1.0) -> nn.Module:
    hidden = scaled(50, width)
    return nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))


def multilenet(task_names: list[str], dropout: float = 0.0, width: float = 1.0) -> MultiTaskModel:
    """MultiLeNet with one 10-way head per task name, hidden widths scaled by ``width``."""
    return MultiTaskModel(
        MultiLeNetEncoder(dropout, width), {t: multilenet_head(10, dropout, width) for t in task_names}
    )
