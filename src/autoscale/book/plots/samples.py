"""Sample grid of a dense benchmark: the RGB input and every target, one row per sample.

Visualisations: depth and disparity with viridis (per-image range over valid pixels, invalid in
black); normals as RGB (n + 1) / 2 (invalid all-zero normals in black); semantic classes with a fixed
palette (ignore = -1 in black); instances as offset fields in HSV (hue = direction to the instance
centre, brightness = distance, black off instances), or as coloured ids when given an (H,W) id map;
edges in white on black.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure
from torch import Tensor
from torch.utils.data import Dataset

ORDER = ("depth", "normal", "semantic", "instance", "edge", "disparity")
# Fixed class colours (class k → PALETTE[k % 20]); matplotlib's tab20 reordered so that neighbouring
# class ids contrast.
PALETTE = np.array(plt.get_cmap("tab20").colors)[[0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]]

Batch = tuple[Tensor, Mapping[str, Tensor]]


def _first(data: Dataset | Batch, n: int) -> tuple[list[np.ndarray], dict[str, list[np.ndarray]]]:
    """Up to n (image, targets) pairs as numpy arrays, from a dataset or a collated batch."""
    if isinstance(data, tuple | list) and len(data) == 2 and isinstance(data[1], Mapping):
        images, targets = data
        n = min(n, len(images))
        return [images[i].numpy() for i in range(n)], {k: [v[i].numpy() for i in range(n)] for k, v in targets.items()}
    samples = [data[i] for i in range(min(n, len(data)))]
    names = samples[0][1].keys()
    return [s[0].numpy() for s in samples], {k: [torch.as_tensor(s[1][k]).numpy() for s in samples] for k in names}


def _scalar_map(ax: Axes, x: np.ndarray) -> None:
    x = x.reshape(x.shape[-2:])
    valid = x != 0
    cmap = plt.get_cmap("viridis").with_extremes(bad="black")
    lo, hi = (x[valid].min(), x[valid].max()) if valid.any() else (0.0, 1.0)
    ax.imshow(np.ma.masked_array(x, ~valid), cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")


def _normal(x: np.ndarray) -> np.ndarray:
    valid = np.abs(x).sum(0) > 0
    return np.where(valid[..., None], (x.transpose(1, 2, 0) + 1) / 2, 0.0).clip(0, 1)


def _semantic(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.int64)
    return np.where((x >= 0)[..., None], PALETTE[np.maximum(x, 0) % len(PALETTE)], 0.0)


def _instance(x: np.ndarray) -> np.ndarray:
    if x.ndim == 2:  # ids
        ids = x.astype(np.int64)
        return np.where((ids > 0)[..., None], PALETTE[(ids * 7) % len(PALETTE)], 0.0)
    mask, dy, dx = x[0] > 0, x[1], x[2]
    distance = np.hypot(dy, dx)
    hue = (np.arctan2(dy, dx) / (2 * np.pi)) % 1.0
    value = distance / max(float(distance[mask].max()) if mask.any() else 0.0, 1e-6)
    hsv = np.stack([hue, np.ones_like(hue), 0.25 + 0.75 * value], axis=-1)
    return np.where(mask[..., None], hsv_to_rgb(hsv), 0.0)


def _draw(ax: Axes, name: str, x: np.ndarray) -> None:
    if name in ("depth", "disparity"):
        _scalar_map(ax, x)
    elif name == "normal":
        ax.imshow(_normal(x), interpolation="nearest")
    elif name == "semantic":
        ax.imshow(_semantic(x), interpolation="nearest")
    elif name == "instance":
        ax.imshow(_instance(x), interpolation="nearest")
    else:  # edge and any other single-channel map
        ax.imshow(x.reshape(x.shape[-2:]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")


def plot_samples(
    batch_or_dataset: Dataset | Batch, n: int = 5, targets: Sequence[str] | None = None, panel_width: float = 2.4
) -> Figure:
    """The first ``n`` samples of a dense dataset (or of a collated batch ``(images, {target: tensor})``).

    Columns: rgb, then ``targets`` (default: every target of the samples, depth / normal / semantic /
    instance / edge / disparity first) visualised as in the module docstring.
    """
    images, values = _first(batch_or_dataset, n)
    if targets is None:
        targets = [t for t in ORDER if t in values] + sorted(set(values) - set(ORDER))
    height, width = images[0].shape[-2:]
    columns = ["rgb", *targets]
    fig, axes = plt.subplots(
        len(images),
        len(columns),
        figsize=(panel_width * len(columns), panel_width * height / width * len(images) + 0.4),
        squeeze=False,
    )
    for row, image in enumerate(images):
        axes[row, 0].imshow(image.transpose(1, 2, 0).clip(0, 1), interpolation="nearest")
        for col, name in enumerate(targets, start=1):
            _draw(axes[row, col], name, values[name][row])
    for col, name in enumerate(columns):
        axes[0, col].set_title(name)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
