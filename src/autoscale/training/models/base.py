"""The multi-task model: a shared encoder and one head per task (hard parameter sharing)."""

from __future__ import annotations

from torch import Tensor, nn

LAYER_TYPES = (nn.Conv2d, nn.Linear)


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

    def layer_parameter_names(self) -> dict[str, list[str]]:
        """The encoder's layers, convolutions and linear maps in registration order, each with the
        names (in this model) of its trainable parameters: the layers gradient conflict is
        measured per (:func:`autoscale.metrics.layer_conflict`)."""
        layers = {}
        for name, module in self.encoder.named_modules():
            if isinstance(module, LAYER_TYPES):
                names = [f"encoder.{name}.{p}" for p, t in module.named_parameters(recurse=False) if t.requires_grad]
                if names:
                    layers[name] = names
        return layers

    def task_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.heads.parameters() if p.requires_grad]

    def decode(self, representation: Tensor) -> dict[str, Tensor]:
        return {name: head(representation) for name, head in self.heads.items()}

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.decode(self.encoder(x))


def scaled(channels: int, width: float) -> int:
    """round(channels · width), at least 1: a layer's width under the width multiplier ``width``."""
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    return max(1, round(channels * width))
