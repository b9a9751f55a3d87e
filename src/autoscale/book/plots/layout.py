"""Panel grids and legends for figures that must stay legible at the book's content width
(about 7 inches): per-task panels wrap into rows and shared legends go below the panels instead
of beside them, where they would steal width from every panel."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def panel_grid(n: int, max_columns: int = 3, panel_size: tuple[float, float] = (3.6, 3.0)) -> tuple[Figure, np.ndarray]:
    """A figure with ``n`` panels in rows of at most ``max_columns``; returns the first ``n`` axes
    (flat) and removes the unused cells of the last row."""
    if n < 1:
        raise ValueError(f"panel_grid needs at least one panel, got {n}")
    columns = min(n, max_columns)
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(panel_size[0] * columns, panel_size[1] * rows), constrained_layout=True, squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.remove()
    return fig, axes.flat[:n]


def legend_below(fig: Figure, handles: Sequence, labels: Sequence[str], max_columns: int = 4) -> None:
    """One legend for the whole figure, centred under the panels."""
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), max_columns))


def spaced_ticks(values: Sequence[float], ratio: float = 1.3) -> list[float]:
    """The sorted distinct ``values`` thinned for a log axis: a value is kept when it is at least
    ``ratio`` times the last kept one, so that tick labels do not run together ("22 24 27")."""
    kept: list[float] = []
    for value in sorted(set(values)):
        if not kept or value >= kept[-1] * ratio:
            kept.append(value)
    return kept


def method_colour(method: str) -> tuple[float, float, float, float]:
    """One colour per method id for every figure of the book: tab20 in the main tables' row order
    (:func:`autoscale.methods.table_methods`, then the searched rows); AutoScale is black."""
    from matplotlib import colormaps

    from autoscale.methods import table_methods

    if method == "autoscale":
        return (0.0, 0.0, 0.0, 1.0)
    order = [m for m in (*table_methods(), "searched", "random") if m != "autoscale"]
    index = order.index(method) if method in order else len(order)
    return colormaps["tab20"](index % 20)
