"""Figures of a linear-scalarization weight sweep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def plot_weight_sweep(
    table: pd.DataFrame,
    x: Sequence[float],
    baseline: Mapping[str, float],
    xlabel: str,
    metric_label: str = "test metric",
) -> Figure:
    """Left: each task's primary metric (mean ± std over seeds) against the swept weight, with the
    single-task baseline as a dashed line. Right: Δm (lower is better) against the weight."""
    fig, (ax_metric, ax_dm) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    x = np.asarray(x, dtype=float)
    for i, task in enumerate(baseline):
        colour = f"C{i}"
        ax_metric.errorbar(
            x, table[task], yerr=table[f"{task} std"], marker="o", ms=4, capsize=2, color=colour, label=task
        )
        ax_metric.axhline(baseline[task], ls="--", lw=1, color=colour, label=f"{task}, single-task")
    ax_metric.set(xlabel=xlabel, ylabel=metric_label, title="per-task test performance")
    ax_metric.legend()
    ax_dm.errorbar(x, table["Δm"], yerr=table["Δm std"], marker="o", ms=4, capsize=2, color="k")
    best = int(np.argmin(table["Δm"].to_numpy()))
    ax_dm.scatter(
        [x[best]],
        [table["Δm"].iloc[best]],
        s=120,
        facecolors="none",
        edgecolors="C3",
        zorder=3,
        label=f"best: {xlabel} = {x[best]:.2f}",
    )
    ax_dm.axhline(0, ls=":", lw=1, color="grey")
    ax_dm.set(xlabel=xlabel, ylabel="Δm (%)  ↓ better", title="Δm against single-task learning")
    ax_dm.legend()
    return fig
