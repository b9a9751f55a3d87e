"""Figures of the runtime chapter: step time relative to unitary, and the cheap-Gramian study.

Both read the JSON of :mod:`autoscale.bench` (``result["benchmarks"]`` and ``result["cheap_study"]``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from autoscale.book.results import method_label

# The paper's Table 7 (arXiv 2508.13979): step time relative to linear scalarization.
PAPER_MTO_RANGE = (2.1, 2.9)  # gradient-manipulating MTOs
PAPER_AUTOSCALE_RANGE = (1.31, 1.45)  # AutoScale


def plot_step_ratios(benchmarks: dict[str, dict], rows: list[str]) -> Figure:
    """Horizontal bars: median step time / unitary per step variant (``rows``), one colour per
    benchmark, with the paper's ranges shaded for reference."""
    names = list(benchmarks)
    height = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(rows) + 1.2), constrained_layout=True)
    ax.axvspan(*PAPER_MTO_RANGE, color="C3", alpha=0.12, label="paper: gradient MTOs (Table 7)")
    ax.axvspan(*PAPER_AUTOSCALE_RANGE, color="C2", alpha=0.2, label="paper: AutoScale (Table 7)")
    y = np.arange(len(rows))
    for i, name in enumerate(names):
        ratios = [benchmarks[name]["steps"][row]["ratio_to_unitary"] for row in rows]
        ax.barh(y + (i - (len(names) - 1) / 2) * height, ratios, height=height, color=f"C{i}", label=name)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(y, [method_label(row) for row in rows])
    ax.invert_yaxis()
    ax.set(xlabel="step time / unitary step", title="steady-state step time relative to unitary scalarization")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_cheap_study(study: dict) -> Figure:
    """Left: relative distance of AutoScale's final weights to the exact-Gramian weights (one dot per
    seed) against seed noise. Right: Δm per Gramian mode, mean ± std over seeds."""
    modes = list(study["modes"])
    fig, (ax_w, ax_dm) = plt.subplots(1, 2, figsize=(10, 3.4), constrained_layout=True)
    cheap = [m for m in modes if m != "exact"]
    for i, mode in enumerate(cheap):
        dist = study["modes"][mode]["distance_to_exact"]
        ax_w.scatter([i] * len(dist), dist, color="C0", zorder=3)
    ax_w.axhline(study["seed_noise"], ls="--", color="C3", label="seed noise (exact, between seeds)")
    ax_w.set_xticks(range(len(cheap)), cheap)
    ax_w.set(ylabel="||ŵ - ŵ_exact|| / ||ŵ_exact||", title="final weights against the exact Gramian")
    ax_w.set_ylim(bottom=0)
    ax_w.legend()
    means = [study["modes"][m]["delta_m_mean"] for m in modes]
    stds = [study["modes"][m]["delta_m_std"] for m in modes]
    ax_dm.errorbar(range(len(modes)), means, yerr=stds, fmt="o", capsize=3, color="k")
    ax_dm.set_xticks(range(len(modes)), modes)
    ax_dm.set(ylabel="Δm (%)  ↓ better", title="Δm against single-task learning")
    return fig
