"""Figures of the metric study: metric trajectories of good / moderate / bad fixed weights (the
paper's Fig. 2) and Δm against run-averaged metrics (Fig. 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from autoscale.book.plots.layout import legend_below, panel_grid
from autoscale.book.study import STUDY_METRICS, StudyMetric, by_weight_set, spearman_bootstrap, study_trajectory
from autoscale.experiments.run_record import RunRecord

GROUP_COLOURS = {"good": plt.cm.Greens, "moderate": plt.cm.Oranges, "bad": plt.cm.Reds}


def _mean_trajectory(records: Sequence[RunRecord], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Trajectory averaged over seeds (runs of one weight set share their logging steps)."""
    curves = [study_trajectory(r, key) for r in records]
    length = min(len(values) for _, values in curves)
    steps = curves[0][0][:length]
    values = np.nanmean(np.stack([v[:length] for _, v in curves]), axis=0)
    return steps, values


def plot_weight_set_trajectories(
    ls_records: Sequence[RunRecord],
    examples: Mapping[str, Sequence[str]],
    title: str = "",
    highlight: Mapping[str, Sequence[RunRecord]] | None = None,
    study_metrics: Sequence[StudyMetric] = STUDY_METRICS,
) -> Figure:
    """The study metrics' trajectories over training of example LS weight sets (the paper's Fig. 2;
    Appendix B.1 with ``study_metrics=APPENDIX_B1_METRICS``): one panel per metric; one line per
    example weight set, coloured by its group (greens: best Δm, orange: median, reds: worst). Lines
    are averaged over seeds.

    ``highlight`` adds other runs (label -> records over seeds) as thick blue lines, e.g. AutoScale
    beside the fixed weights (the paper's Fig. 8); an AutoScale run's switch step is marked."""
    by_label = by_weight_set(ls_records)
    fig, axes = panel_grid(len(study_metrics), max_columns=3, panel_size=(11 / 3, 3.2))
    for ax, metric in zip(axes, study_metrics, strict=True):
        for group, labels in examples.items():
            shades = GROUP_COLOURS[group](np.linspace(0.85, 0.5, max(len(labels), 1)))
            for shade, label in zip(shades, labels, strict=False):
                steps, values = _mean_trajectory(by_label[label], metric.key)
                ax.plot(steps, values, color=shade, lw=1.4, label=f"{group}: w = {label}")
        for j, (label, records) in enumerate((highlight or {}).items()):
            steps, values = _mean_trajectory(records, metric.key)
            ax.plot(steps, values, color=plt.cm.Blues(0.9 - 0.25 * j), lw=2.4, label=label)
            trace = records[0].autoscale
            if trace is not None and trace.switch_step:
                ax.axvline(trace.switch_step, color="0.4", lw=0.8, ls="--")
        if metric.key == "cond":
            ax.set_yscale("log")
        ax.set(title=metric.label, xlabel="training step")
    legend_below(fig, *axes[0].get_legend_handles_labels(), max_columns=3)
    if title:
        fig.suptitle(title)
    return fig


def plot_delta_m_against_metrics(
    table: pd.DataFrame, title: str = "", n_boot: int = 2000, study_metrics: Sequence[StudyMetric] = STUDY_METRICS
) -> Figure:
    """Δm of every weight set against each run-averaged metric of ``study_metrics``, with
    Spearman's ρ and its 95% bootstrap interval in the panel title."""
    fig, axes = plt.subplots(
        1, len(study_metrics), figsize=(3.0 * len(study_metrics), 3.1), constrained_layout=True, sharey=True
    )
    for ax, metric in zip(axes, study_metrics, strict=True):
        rho, low, high = spearman_bootstrap(table["Δm"], table[metric.key], n_boot=n_boot)
        ax.scatter(table[metric.key], table["Δm"], s=22, color="C0")
        xlabel = "log10 " + metric.label if metric.key == "cond" else metric.label
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(4))  # narrow panels: long tick labels would run together
        ax.set_title(f"ρ = {rho:.2f} [{low:.2f}, {high:.2f}]")
    axes[0].set_ylabel("Δm (%)  ↓ better")
    if title:
        fig.suptitle(title)
    return fig
