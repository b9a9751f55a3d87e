"""Figures of the results chapters: the predictors on AutoScale's window weights (the paper's
Fig. 4), Δm against training time (Fig. 5), the α ablation (Fig. 6) and the window weights of
each exploration method (Fig. 7)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from autoscale.book.plots.layout import legend_below, method_colour, panel_grid
from autoscale.book.results import method_label
from autoscale.experiments.plans import ABLATIONS
from autoscale.experiments.run_record import AutoScaleTrace, RunRecord
from autoscale.methods.autoscale import DEFAULTS
from autoscale.methods.predictors import predict

# Colour and line style of each predictor (names from ABLATIONS["predictor"]).
PREDICTOR_STYLES = {
    "avg": ("C0", "--"),
    "last": ("C1", "--"),
    "linear": ("C2", "-"),
    "linear_follow": ("C3", ":"),
    "exp": ("C4", "-."),
}


def predictor_curves(
    trace: AutoScaleTrace, total_steps: int, points: int = 60
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Phase-2 weights (steps, (n, K) weights) each predictor would use, from a run's window weights.

    Avg W, Last W, L.E. and E.E. are constant ŵ = f(windows) evaluated at γT; L.E.† follows the
    fitted line from the switch to γT and holds it afterwards. Every value is clipped and
    renormalised as the method does (:func:`autoscale.methods.predictors.predict`).
    """
    steps, ww = trace.window_steps, trace.window_weights
    gamma_t = trace.gamma * total_steps
    phase2 = np.linspace(trace.switch_step, total_steps, points)
    curves = {}
    for name in ("avg", "last", "linear", "exp"):
        w = predict(name, steps, ww, gamma_t).numpy()
        curves[name] = (phase2, np.tile(w, (points, 1)))
    follow = np.stack([predict("linear", steps, ww, min(t, gamma_t)).numpy() for t in phase2])
    curves["linear_follow"] = (phase2, follow)
    return curves


def plot_predictors(record: RunRecord, title: str = "") -> Figure:
    """One panel per task: the window weights of the exploration phase (dots at window midpoints),
    the exploration method's per-step weights (grey), and the phase-2 weights of every predictor."""
    trace = record.autoscale
    tasks = record.task_names
    total = record.total_steps
    switch = trace.switch_step
    curves = predictor_curves(trace, total)
    step_weights = record.step_weights
    fig, axes = panel_grid(len(tasks), max_columns=2)
    for i, (ax, task) in enumerate(zip(axes, tasks, strict=True)):
        ax.plot(np.arange(switch), step_weights[:switch, i], color="0.75", lw=0.8, label="exploration weights")
        ax.scatter(trace.window_steps, trace.window_weights[:, i], color="k", s=22, zorder=3, label="window weights")
        for name, (steps, values) in curves.items():
            colour, style = PREDICTOR_STYLES[name]
            ax.plot(steps, values[:, i], color=colour, ls=style, lw=1.6, label=ABLATIONS["predictor"].label(name))
        ax.axvline(switch, color="0.4", lw=0.8)
        ax.axvline(trace.gamma * total, color="0.4", lw=0.8, ls=":")
        ax.set(title=task, xlabel="training step", ylabel="weight")
    legend_below(fig, *axes[0].get_legend_handles_labels())
    fig.suptitle(f"{title}  (solid line: switch at αT; dotted: γT)".strip())
    return fig


MARKERS = "osD^v<>phX"


def plot_delta_m_against_time(tables: Mapping[str, pd.DataFrame], trials: Mapping[str, Mapping[str, int]]) -> Figure:
    """Δm (mean ± std over seeds) against training time relative to unitary LS, one panel per
    benchmark, from main tables keyed by method id (:func:`autoscale.book.results.main_table`). The
    searched weights are drawn at their search cost: ``trials[benchmark][row]`` LS runs for the
    rows ``"searched"`` (the grid) and ``"random"`` (the random trials)."""
    fig, axes = panel_grid(len(tables), max_columns=2, panel_size=(4.2, 3.4))
    for ax, (benchmark, table) in zip(axes, tables.items(), strict=True):
        rows = table.drop(index="stl", errors="ignore")
        unit = rows.loc["unitary", "train time (s)"]
        for j, (method, row) in enumerate(rows.iterrows()):
            x = row["train time (s)"] / unit
            label = method_label(method)
            if method in trials[benchmark]:
                x *= trials[benchmark][method]
                label = f"{label} (× {trials[benchmark][method]} trials)"
            marker = "*" if method == "autoscale" else MARKERS[j % len(MARKERS)]
            ax.errorbar(
                x,
                row["Δm"],
                yerr=row["Δm std"] if row["seeds"] > 1 else None,
                fmt=marker,
                ms=14 if marker == "*" else 7,
                color=method_colour(method),
                capsize=2,
                label=label,
            )
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.axhline(0, color="grey", lw=0.8, ls=":")
        ax.set(title=benchmark, xlabel="training time / unitary LS (log)", ylabel="Δm (%)  ↓ better")
    handles, labels = axes[0].get_legend_handles_labels()
    legend_below(fig, handles, [lb.split(" (×")[0] for lb in labels])
    return fig


def plot_alpha(tables: Mapping[str, pd.DataFrame]) -> Figure:
    """Fig. 6: Δm and training time (relative to the default α) against the exploration ratio α,
    from the α ablation's tables (rows keyed by α)."""
    default = DEFAULTS["alpha"]
    fig, (ax_dm, ax_time) = plt.subplots(1, 2, figsize=(9, 3.3), constrained_layout=True)
    for j, (benchmark, table) in enumerate(tables.items()):
        alphas = table.index.to_numpy(dtype=float)
        err = table["Δm std"] if (table["seeds"] > 1).all() else None
        ax_dm.errorbar(alphas, table["Δm"], yerr=err, marker="o", color=f"C{j}", capsize=2, label=benchmark)
        ax_time.plot(
            alphas,
            table["train time (s)"] / table.loc[default, "train time (s)"],
            marker="o",
            color=f"C{j}",
            label=benchmark,
        )
    ax_dm.set(xlabel="exploration ratio α", ylabel="Δm (%)  ↓ better", title="Δm")
    ax_time.set(xlabel="exploration ratio α", ylabel=f"training time / (α = {default:g})", title="training time")
    for ax in (ax_dm, ax_time):
        ax.axvline(default, color="0.6", lw=0.8, ls=":")
        ax.legend()
    return fig


def plot_window_weights(records: Mapping[str, Sequence[RunRecord]], title: str = "") -> Figure:
    """Fig. 7: the window weights of the exploration phase, one panel per task, one line per
    entry of ``records`` (legend label -> AutoScale runs; the first seed is drawn), with the
    weights each run switched to (ŵ) at the right."""
    tasks = next(iter(records.values()))[0].task_names
    fig, axes = panel_grid(len(tasks), max_columns=2)
    for j, (label, runs) in enumerate(records.items()):
        trace = runs[0].autoscale
        for i, ax in enumerate(axes):
            ax.plot(trace.window_steps, trace.window_weights[:, i], marker="o", ms=3, color=f"C{j}", label=label)
            if trace.final_weights is not None:
                ax.scatter([trace.switch_step], [trace.final_weights[i]], marker=">", color=f"C{j}", s=40)
    for ax, task in zip(axes, tasks, strict=True):
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set(title=task, xlabel="training step", ylabel="window weight")
    legend_below(fig, *axes[0].get_legend_handles_labels(), max_columns=5)
    if title:
        fig.suptitle(f"{title}  (▶: predicted weights used after the switch)")
    return fig
