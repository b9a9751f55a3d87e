"""The capacity study's figure (chapter "Scalarization at scale"): each weight set's Δm against the
width, the gain of joint training per width, and per-layer gradient conflict per width."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from autoscale.book.capacity import CapacityStudy, width_label


def plot_capacity(studies: Mapping[str, CapacityStudy]) -> Figure:
    """One row per benchmark: (1) mean test Δm of every weight set against the width (log scale),
    the grid's choice at the largest width in black; (2) Δm of equal weights and of the grid's
    choice with 95% t intervals over seeds; (3) the share of conflicting task pairs per encoder
    layer (in forward order), one line per width."""
    fig, axes = plt.subplots(
        len(studies), 3, figsize=(12.5, 3.4 * len(studies)), constrained_layout=True, squeeze=False
    )
    for row, (benchmark, study) in enumerate(studies.items()):
        ax_sets, ax_gain, ax_conflict = axes[row]
        widths = list(study.sweeps)
        table = study.delta_m_table()
        gain = study.gain_table()
        best = gain["grid's choice"].iloc[-1]
        for label, values in table.iterrows():
            emphasis = {"color": "k", "lw": 2, "zorder": 3} if label == best else {"color": "0.6", "lw": 0.9}
            ax_sets.plot(widths, values.to_numpy(), marker=".", **emphasis)
        ax_sets.set(xscale="log", xlabel="width multiplier", ylabel="test Δm (%)  ↓ better", title=benchmark)
        ax_sets.set_xticks(widths, [width_label(w) for w in widths])
        ax_sets.minorticks_off()
        for k, name in enumerate(("equal weights", "grid's choice")):
            column = f"Δm {name}"
            if column not in gain:
                continue
            mean = gain[column].to_numpy()
            low, high = gain[f"{name} low"].to_numpy(), gain[f"{name} high"].to_numpy()
            error = None if np.isnan(low).all() else [mean - low, high - mean]
            shift = 1.04 if k else 1 / 1.04  # side by side on the log axis
            ax_gain.errorbar(np.asarray(widths) * shift, mean, yerr=error, marker="o", capsize=3, label=name)
        ax_gain.axhline(0, color="0.5", lw=0.8, ls=":")
        ax_gain.set(
            xscale="log",
            xlabel="width multiplier",
            ylabel="test Δm (%) vs. STL of that width",
            title="joint vs. single-task",
        )
        ax_gain.set_xticks(widths, [width_label(w) for w in widths])
        ax_gain.minorticks_off()
        ax_gain.legend()
        runs = study.conflict_runs()
        layers = [c for c in runs.columns if c not in ("width", "weight set", "seed", "Δm")]
        for w, group in runs.groupby("width"):
            ax_conflict.plot(range(len(layers)), group[layers].mean().to_numpy(), marker="o", label=width_label(w))
        ax_conflict.set_xticks(range(len(layers)), layers, rotation=30, ha="right")
        ax_conflict.set(ylabel="share of conflicting task pairs", title="gradient conflict per layer", ylim=(0, 1))
        if layers:
            ax_conflict.legend()
    return fig
