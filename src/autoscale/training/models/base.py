"""The multi-task model: a shared encoder and one head per task (hard parameter sharing)."""

from __future__ import annotations

from torch import Tensor, nn


class MultiTaskModel(nn.Module):
    """``encoder(x) -> representation``; ``heads[task](representation) -> prediction``.

    The shared parameters (the encoder's) are those whose per-task gradients make the Gramian;
    the representation is what MGDA-UB differentiates instead.
    """

    def __init__(self, encoder: nn.Module, heads: dict[str, nn.Module]) -> None:
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict(heads)

    def shared_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.encoder.parameters() if p.requires_grad]

    def task_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.heads.parameters() if p.requires_grad]

    def decode(self, representation: Tensor) -> dict[str, Tensor]:
        return {name: head(representation) for name, head in self.heads.items()}

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.decode(self.encoder(x))
