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

from autoscale.book.plots.layout import legend_below, panel_grid
from autoscale.methods.predictors import predict

PREDICTOR_STYLES = {
    "avg": ("Avg W", "C0", "--"),
    "last": ("Last W", "C1", "--"),
    "linear": ("L.E.", "C2", "-"),
    "linear_follow": ("L.E.†", "C3", ":"),
    "exp": ("E.E.", "C4", "-."),
}


def predictor_curves(
    method_record: Mapping, total_steps: int, points: int = 60
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Phase-2 weights (steps, (n, K) weights) each predictor would use, from a run's window weights.

    Avg W, Last W, L.E. and E.E. are constant ŵ = f(windows) evaluated at γT; L.E.† follows the
    fitted line from the switch to γT and holds it afterwards. Every value is clipped and
    renormalised as the method does (:func:`autoscale.methods.predictors.predict`).
    """
    steps = np.asarray(method_record["window_steps"], dtype=float)
    ww = np.asarray(method_record["window_weights"], dtype=float)
    gamma_t = method_record["config"]["gamma"] * total_steps
    phase2 = np.linspace(method_record["switch_step"], total_steps, points)
    curves = {}
    for name in ("avg", "last", "linear", "exp"):
        w = predict(name, steps, ww, gamma_t).numpy()
        curves[name] = (phase2, np.tile(w, (points, 1)))
    follow = np.stack([predict("linear", steps, ww, min(t, gamma_t)).numpy() for t in phase2])
    curves["linear_follow"] = (phase2, follow)
    return curves


def plot_predictors(record: Mapping, title: str = "") -> Figure:
    """One panel per task: the window weights of the exploration phase (dots at window midpoints),
    the exploration method's per-step weights (grey), and the phase-2 weights of every predictor."""
    method = record["method"]
    tasks = list(record["tasks"])
    total = record["total_steps"]
    switch = method["switch_step"]
    curves = predictor_curves(method, total)
    ww = np.asarray(method["window_weights"], dtype=float)
    step_weights = np.asarray(record["steps"]["weights"], dtype=float)
    fig, axes = panel_grid(len(tasks), max_columns=2)
    for i, (ax, task) in enumerate(zip(axes, tasks, strict=True)):
        ax.plot(np.arange(switch), step_weights[:switch, i], color="0.75", lw=0.8, label="exploration weights")
        ax.scatter(method["window_steps"], ww[:, i], color="k", s=22, zorder=3, label="window weights")
        for name, (steps, values) in curves.items():
            label, colour, style = PREDICTOR_STYLES[name]
            ax.plot(steps, values[:, i], color=colour, ls=style, lw=1.6, label=label)
        ax.axvline(switch, color="0.4", lw=0.8)
        ax.axvline(method["config"]["gamma"] * total, color="0.4", lw=0.8, ls=":")
        ax.set(title=task, xlabel="training step", ylabel="weight")
    legend_below(fig, *axes[0].get_legend_handles_labels())
    fig.suptitle(f"{title}  (solid line: switch at αT; dotted: γT)".strip())
    return fig


MARKERS = "osD^v<>phX"


def plot_delta_m_against_time(tables: Mapping[str, pd.DataFrame], trials: Mapping[str, int]) -> Figure:
    """Δm (mean ± std over seeds) against training time relative to unitary LS, one panel per
    benchmark. The searched weights are drawn at their search cost: ``trials[benchmark]`` LS runs."""
    fig, axes = panel_grid(len(tables), max_columns=2, panel_size=(4.2, 3.4))
    for ax, (benchmark, table) in zip(axes, tables.items(), strict=True):
        rows = table.drop(index="Single-task", errors="ignore")
        unit = rows.loc["Unitary LS", "train time (s)"]
        for j, (label, row) in enumerate(rows.iterrows()):
            x = row["train time (s)"] / unit
            if label == "Searched LS weights":
                x *= trials[benchmark]
                label = f"{label} (× {trials[benchmark]} trials)"
            marker = "*" if label == "AutoScale" else MARKERS[j % len(MARKERS)]
            ax.errorbar(
                x,
                row["Δm"],
                yerr=row["Δm std"] if row["seeds"] > 1 else None,
                fmt=marker,
                ms=14 if marker == "*" else 7,
                color="k" if marker == "*" else f"C{j % 10}",
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
    """Fig. 6: Δm and training time (relative to α = 0.2) against the exploration ratio α."""
    fig, (ax_dm, ax_time) = plt.subplots(1, 2, figsize=(9, 3.3), constrained_layout=True)
    for j, (benchmark, table) in enumerate(tables.items()):
        alphas = np.array([float(a) for a in table.index])
        err = table["Δm std"] if (table["seeds"] > 1).all() else None
        ax_dm.errorbar(alphas, table["Δm"], yerr=err, marker="o", color=f"C{j}", capsize=2, label=benchmark)
        ax_time.plot(
            alphas,
            table["train time (s)"] / table.loc["0.2", "train time (s)"],
            marker="o",
            color=f"C{j}",
            label=benchmark,
        )
    ax_dm.set(xlabel="exploration ratio α", ylabel="Δm (%)  ↓ better", title="Δm")
    ax_time.set(xlabel="exploration ratio α", ylabel="training time / (α = 0.2)", title="training time")
    for ax in (ax_dm, ax_time):
        ax.axvline(0.2, color="0.6", lw=0.8, ls=":")
        ax.legend(fontsize=8)
    return fig


def plot_window_weights(records: Mapping[str, Sequence[Mapping]], title: str = "") -> Figure:
    """Fig. 7: the window weights of the exploration phase, one panel per task, one line per
    exploration method (first seed), with the weights each run switched to (ŵ) at the right."""
    first = next(iter(records.values()))[0]
    tasks = list(first["tasks"])
    fig, axes = panel_grid(len(tasks), max_columns=2)
    for j, (label, runs) in enumerate(records.items()):
        method = runs[0]["method"]
        ww = np.asarray(method["window_weights"], dtype=float)
        for i, ax in enumerate(axes):
            ax.plot(method["window_steps"], ww[:, i], marker="o", ms=3, color=f"C{j}", label=label)
            if method["final_weights"] is not None:
                ax.scatter([method["switch_step"]], [method["final_weights"][i]], marker=">", color=f"C{j}", s=40)
    for ax, task in zip(axes, tasks, strict=True):
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set(title=task, xlabel="training step", ylabel="window weight")
    legend_below(fig, *axes[0].get_legend_handles_labels(), max_columns=5)
    if title:
        fig.suptitle(f"{title}  (▶: predicted weights used after the switch)")
    return fig
