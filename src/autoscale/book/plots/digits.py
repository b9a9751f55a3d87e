"""Sample grid of a MultiMNIST-style dataset (two labels per image)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from torch.utils.data import Dataset


def plot_digit_pairs(dataset: Dataset, n: int = 16, columns: int = 8) -> Figure:
    """The first ``n`` images of ``dataset`` titled "left | right" with their labels."""
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.45 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= min(n, len(dataset)):
            continue
        image, labels = dataset[i]
        ax.imshow(image[0], cmap="gray")
        ax.set_title(f"{int(labels['left'])} | {int(labels['right'])}")
    fig.tight_layout()
    return fig
