"""Dense-prediction models: a shared encoder and one upsampling head per task.

Two families, selected by ``arch``:

- ``small`` (the ``cpu`` profile): a light CNN. conv3x3-BN-ReLU blocks down to 1/4 (32 ch) and
  on to 1/8 (64 ch, dilations 1, 2, 4 for context); the 1/8 features are upsampled to 1/4,
  concatenated with the 1/4 features and fused by a 1x1 conv into a 64-channel representation
  at output stride 4. Heads: conv3x3(64→32)-BN-ReLU → conv1x1(32→C).
- ``resnet18`` / ``resnet50`` (the ``full`` profile): torchvision ResNet (random init, or a
  local weights file) made dilated to output stride 8 as the "DeepLab-ResNet" encoders of
  MTAN / LibMTL / Auto-Lambda / Nash-MTL, with a DeepLabv3 ASPP head per task (rates 12, 24, 36,
  torchvision's ``DeepLabHead``), which is LibMTL's NYUv2 decoder.

Every head upsamples bilinearly by the encoder's output stride to the input resolution; the
normal head then L2-normalises its 3 channels. Inputs must have H and W divisible by the
output stride (4 or 8) so that the outputs match the targets pixel for pixel.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torchvision.models.segmentation.deeplabv3 import DeepLabHead

from autoscale.training.models.base import MultiTaskModel, scaled
from autoscale.training.tasks import build_tasks

ARCHS = ("small", "resnet18", "resnet50")
# Heads whose output is a direction, L2-normalised per pixel (target convention: unit normals).
UNIT_VECTOR_TASKS = frozenset({"normal"})


def conv_bn_relu(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 conv (padding = dilation keeps the size at stride 1) → BatchNorm → ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _check_divisible(x: Tensor, stride: int) -> None:
    h, w = x.shape[-2:]
    if h % stride or w % stride:
        raise ValueError(f"input size {h}x{w} must be divisible by the encoder's output stride {stride}")


class SmallEncoder(nn.Module):
    """About 0.12M parameters at ``width`` 1; representation (B, round(64·width), H/4, W/4).
    ``width`` multiplies every layer's channels (16, 32, 64)."""

    output_stride = 4

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c16, c32, c64 = scaled(16, width), scaled(32, width), scaled(64, width)
        self.out_channels = c64
        self.quarter = nn.Sequential(
            conv_bn_relu(3, c16, stride=2), conv_bn_relu(c16, c32, stride=2), conv_bn_relu(c32, c32)
        )
        self.eighth = nn.Sequential(
            conv_bn_relu(c32, c64, stride=2), conv_bn_relu(c64, c64, dilation=2), conv_bn_relu(c64, c64, dilation=4)
        )
        self.fuse = nn.Sequential(nn.Conv2d(c32 + c64, c64, 1, bias=False), nn.BatchNorm2d(c64), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        _check_divisible(x, self.output_stride)
        quarter = self.quarter(x)
        context = F.interpolate(self.eighth(quarter), size=quarter.shape[-2:], mode="bilinear", align_corners=False)
        return self.fuse(torch.cat([quarter, context], dim=1))


def _dilate(stage: nn.Module, dilation: int) -> None:
    """Turn a stride-2 ResNet stage into a stride-1 dilated one (DeepLab; LibMTL ``ResnetDilated``).

    Strides become 1; the stage's first (formerly strided) 3x3 conv gets dilation/2, the other
    3x3 convs get ``dilation``, which is what torchvision's ``replace_stride_with_dilation`` does
    for Bottleneck blocks; done by hand because torchvision's BasicBlock (ResNet-18) refuses it.
    """
    for module in stage.modules():
        if isinstance(module, nn.Conv2d):
            was_strided = module.stride == (2, 2)
            module.stride = (1, 1)
            if module.kernel_size == (3, 3):
                d = dilation // 2 if was_strided else dilation
                module.dilation = module.padding = (d, d)


class DilatedResNet(nn.Module):
    """ResNet-18/50 trunk (no pooling/fc) at output stride 8: layer3 dilated 2, layer4 dilated 4."""

    output_stride = 8

    def __init__(self, depth: int, pretrained: str | None = None) -> None:
        super().__init__()
        net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
        if pretrained is not None:
            net.load_state_dict(_load_weights(pretrained))
        _dilate(net.layer3, 2)
        _dilate(net.layer4, 4)
        self.out_channels = net.fc.in_features
        self.trunk = nn.Sequential(
            net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4
        )

    def forward(self, x: Tensor) -> Tensor:
        _check_divisible(x, self.output_stride)
        return self.trunk(x)


def _load_weights(path: str) -> dict[str, Tensor]:
    """A torchvision ResNet state dict from a local file; this package never downloads weights."""
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"pretrained weights file {path!r} not found; pass the path of a torchvision ResNet state dict "
            "(e.g. resnet50-0676ba61.pth) that you downloaded yourself, or pretrained=None for random init"
        )
    return torch.load(path, map_location="cpu", weights_only=True)


class DenseHead(nn.Module):
    """``body`` on the representation, bilinear upsampling by ``scale``, optional per-pixel L2 norm."""

    def __init__(self, body: nn.Module, scale: int, unit_vector: bool) -> None:
        super().__init__()
        self.body = body
        self.scale = scale
        self.unit_vector = unit_vector

    def forward(self, representation: Tensor) -> Tensor:
        out = F.interpolate(self.body(representation), scale_factor=self.scale, mode="bilinear", align_corners=False)
        return F.normalize(out, dim=1) if self.unit_vector else out


def small_head_body(in_channels: int, out_channels: int, width: float = 1.0) -> nn.Module:
    hidden = scaled(32, width)
    return nn.Sequential(conv_bn_relu(in_channels, hidden), nn.Conv2d(hidden, out_channels, 1))


def dense_model(
    out_channels: dict[str, int], arch: str = "small", pretrained: str | None = None, width: float = 1.0
) -> MultiTaskModel:
    """A dense multi-task model with one head per task; ``out_channels`` maps task → channels.

    ``pretrained``: path of a local torchvision ResNet state dict (ResNet archs only). ``width``
    multiplies the small encoder's and its heads' channels (the ResNets have their depth instead).
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r} for dense tasks; available: {', '.join(ARCHS)}")
    if arch == "small":
        if pretrained is not None:
            raise ValueError("the small encoder has no pretrained weights")
        encoder: SmallEncoder | DilatedResNet = SmallEncoder(width)

        def make_body(in_channels: int, channels: int) -> nn.Module:
            return small_head_body(in_channels, channels, width)

    else:
        if width != 1.0:
            raise ValueError(
                f"width {width} applies to the small encoder only; a ResNet's capacity is its depth ({arch})"
            )
        encoder = DilatedResNet(int(arch.removeprefix("resnet")), pretrained)
        make_body = DeepLabHead
    heads = {
        name: DenseHead(make_body(encoder.out_channels, channels), encoder.output_stride, name in UNIT_VECTOR_TASKS)
        for name, channels in out_channels.items()
    }
    return MultiTaskModel(encoder, heads)


def benchmark_model(
    benchmark: str,
    task_names: list[str],
    arch: str = "small",
    pretrained: str | None = None,
    num_classes: int | None = None,
    width: float = 1.0,
) -> MultiTaskModel:
    """The model of the dense benchmark ``benchmark``: its heads' channels come from its task
    definitions (``Task.out_channels``), so ``num_classes`` must be the one given to ``build_tasks``
    (None keeps the benchmark's default)."""
    task_options = {} if num_classes is None else {"num_classes": num_classes}
    tasks = build_tasks(benchmark, task_names, **task_options)
    return dense_model({t.name: t.out_channels for t in tasks}, arch=arch, pretrained=pretrained, width=width)
