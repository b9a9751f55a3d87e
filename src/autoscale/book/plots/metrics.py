"""Figures of the "MTO metrics" chapter: the four training issues on toy problems, the dependence
of the metrics on linear-scalarization weights, and metric trajectories of a training run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from autoscale.book.toy import ToyProblem, Trajectory, issue_metrics
from autoscale.experiments.run_record import RunRecord

# Labels of the issue metrics (keys of autoscale.book.toy.issue_metrics) as printed in the panels.
_ISSUE_LABELS = {
    "gms": "GMS",
    "cos": "cos$(g_1, g_2)$",
    "rls": "rel. loss scale",
    "relative_itr": "rel. ITR at end",
}


def _format_metric(value: float | np.ndarray) -> str:
    if np.ndim(value) == 0:
        return f"{float(value):.2f}"
    return "(" + ", ".join(f"{v:.2f}" for v in value) + ")"


def _log_if_wide(ax: Axes, values: np.ndarray, factor: float = 5.0) -> None:
    """Log y-scale where positive values span more than ``factor``; a narrow range stays linear,
    where log ticks would be unreadable."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > factor:
        ax.set_yscale("log")


def _plot_noisy(ax: Axes, x: np.ndarray, y: np.ndarray, **style) -> None:
    """Per-step values as a thin line and, for 20 points or more, a centred moving average over a
    tenth of them as a thick line: per-step metrics are mini-batch noisy, their trend is what counts."""
    y = np.asarray(y, dtype=float)
    k = len(y) // 10
    if k < 2 or not np.isfinite(y).all():
        ax.plot(x, y, **style)
        return
    ax.plot(x, y, lw=0.7, alpha=0.4, **{key: v for key, v in style.items() if key != "label"})
    smooth = np.convolve(y, np.ones(k) / k, mode="valid")
    ax.plot(np.asarray(x, dtype=float)[(k - 1) // 2 : (k - 1) // 2 + len(smooth)], smooth, lw=1.8, **style)


def _limits(points: np.ndarray, margin: float = 0.6) -> tuple[tuple[float, float], tuple[float, float]]:
    low, high = points.min(axis=0) - margin, points.max(axis=0) + margin
    return (low[0], high[0]), (low[1], high[1])


def _draw_plane(ax: Axes, problem: ToyProblem, traj: Trajectory) -> None:
    """Contours of each task loss, task optima, descent directions at θ_0 and the LS path."""
    centers = np.stack([t.center for t in problem.tasks])
    (x0, x1), (y0, y1) = _limits(np.concatenate([centers, traj.thetas]))
    grid = np.stack(np.meshgrid(np.linspace(x0, x1, 150), np.linspace(y0, y1, 150)), axis=-1)
    start = traj.thetas[0]
    for i, task in enumerate(problem.tasks):
        # Levels through the start and at fractions of its loss above the task's minimum b_i.
        excess = task.loss(start) - task.offset
        levels = task.offset + excess * np.array([0.05, 0.25, 0.5, 1.0, 2.0])
        ax.contour(
            grid[..., 0], grid[..., 1], task.loss(grid), levels=levels, colors=f"C{i}", linewidths=0.8, alpha=0.6
        )
        ax.plot(
            *task.center,
            marker="*",
            ms=12,
            color=f"C{i}",
            mec="k",
            mew=0.5,
            ls="none",
            label=f"optimum of task {i + 1}",
        )
    ax.plot(*traj.thetas.T, color="0.45", lw=1, marker=".", ms=3, label="LS path", zorder=1)
    # Descent directions -g_i and the LS update direction -Σ w_i g_i at θ_0, all with one scale
    # so their lengths compare.
    neg_grads = -traj.gradients[0]
    update = -np.asarray(problem.weights) @ traj.gradients[0]
    span = min(x1 - x0, y1 - y0)
    scale = 0.4 * span / max(np.linalg.norm(neg_grads, axis=1).max(), np.linalg.norm(update))
    for i, g in enumerate(neg_grads):
        ax.annotate(
            "",
            start + scale * g,
            start,
            arrowprops={"arrowstyle": "-|>", "color": f"C{i}", "lw": 2.2, "shrinkA": 0, "shrinkB": 0},
        )
        ax.plot([], [], color=f"C{i}", lw=2.2, label=f"$-g_{i + 1}$")
    ax.annotate(
        "",
        start + scale * update,
        start,
        arrowprops={"arrowstyle": "-|>", "color": "k", "lw": 2.2, "ls": "--", "shrinkA": 0, "shrinkB": 0},
    )
    ax.plot([], [], color="k", lw=2.2, ls="--", label=r"LS update $-\sum_i w_i g_i$")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel=r"$\theta_1$", ylabel=r"$\theta_2$")
    ax.set_aspect("equal")


def _draw_metric_box(ax: Axes, problem: ToyProblem, values: Mapping[str, float | np.ndarray]) -> None:
    """The issue metrics as lines of text on an empty axis; the one this problem is about in red."""
    ax.axis("off")
    for row, (key, label) in enumerate(_ISSUE_LABELS.items()):
        highlight = key == problem.metric
        ax.text(
            0.5,
            1 - 0.25 * row,
            f"{label} = {_format_metric(values[key])}",
            transform=ax.transAxes,
            ha="center",
            va="top",
            color="C3" if highlight else "0.3",
            fontweight="bold" if highlight else "normal",
        )


def plot_training_issues(problems: Mapping[str, ToyProblem]) -> Figure:
    """The training issues of the paper's Fig. 1 on toy problems (:mod:`autoscale.book.toy`), one column each.

    Top: the parameter plane with each task's loss contours and optimum (star), the descent
    directions -g_i at the start and the LS update (dashed, all drawn to one scale), the LS
    gradient-descent path, and the metrics of :func:`autoscale.book.toy.issue_metrics` (red: the one
    that measures this column's issue) below it. Bottom: the task losses over the steps (log scale
    where they span more than a factor 5).
    """
    n = len(problems)
    fig, axes = plt.subplots(
        3,
        n,
        figsize=(3.6 * n, 8.2),
        gridspec_kw={"height_ratios": [1.5, 0.38, 1]},
        constrained_layout=True,
        squeeze=False,
    )
    for col, problem in enumerate(problems.values()):
        traj = problem.run()
        ax_plane, ax_text, ax_loss = axes[:, col]
        _draw_plane(ax_plane, problem, traj)
        _draw_metric_box(ax_text, problem, issue_metrics(problem, traj))
        ax_plane.set_title(problem.title, fontsize=10)
        for i in range(traj.losses.shape[1]):
            # Task 2 dashed: in the symmetric problems both curves coincide.
            ax_loss.plot(traj.losses[:, i], color=f"C{i}", ls="-" if i == 0 else "--", label=f"task {i + 1}")
        _log_if_wide(ax_loss, traj.losses)
        ax_loss.set(xlabel="step", ylabel="task loss $l_i$" if col == 0 else None)
        ax_loss.grid(alpha=0.3, which="both")
    axes[2, 0].legend()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    return fig


def plot_weight_dependence(
    tables: Mapping[str, pd.DataFrame],
    keys: Sequence[str] = ("cos", "gms", "cond", "rls_std"),
    xlabel: str = "$w_1$ (with $w_1 + w_2 = 2$)",
) -> Figure:
    """Metrics of fixed snapshots against the LS weight of the first task, one panel per metric.

    ``tables`` maps a label (e.g. "initialisation") to the output of
    :func:`autoscale.book.inspect_gradients.metrics_over_weights`, whose index are weight tuples; the
    x-axis is the first weight. ``cond`` is drawn on a log scale, ``cos`` over its whole range [-1, 1].
    """
    titles = {
        "cos": "cosine similarity (pairwise mean)",
        "gms": "GMS of $w_i g_i$",
        "cond": "condition number of $[w_1 g_1, w_2 g_2]$",
        "rls_std": "std of rel. loss scale of $w_i l_i$",
        "rgm_std": "std of rel. gradient magnitude",
        "itr_std": "std of rel. inverse training rate",
    }
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 3.2), constrained_layout=True, squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for i, (label, table) in enumerate(tables.items()):
            x = [w[0] for w in table.index]
            ax.plot(x, table[key], color=f"C{i + 2}", label=label)
        ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
        if key == "cond":
            ax.set_yscale("log")
        elif key == "cos":
            # The full range, so that a weight-invariant cosine reads as the flat line it is.
            ax.set_ylim(-1.05, 1.05)
        ax.set(title=titles.get(key, key), xlabel=xlabel)
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend()
    return fig


def plot_run_metrics(record: RunRecord) -> Figure:
    """The MTO metrics one run logged (:func:`autoscale.metrics.summarize_step`, every
    ``metrics_every`` steps) against the training step, 2 x 4 panels.

    Per task: loss, gradient norm |g_i|, cosine to the update. Across tasks: GMS and condition
    number of the weighted gradients (with the raw ones dotted if the weights are not uniform),
    mean pairwise cosine, and the spreads (std over tasks) of the relative inverse training rate
    and relative loss scale. Long trajectories get a moving average on top of the per-step values;
    panels whose positive values span more than a factor 5 are log-scaled.
    """
    task_names = record.task_names
    step = record.metric_steps
    fig, axes = plt.subplots(2, 4, figsize=(14, 6), constrained_layout=True)
    per_task = [
        ("loss", "task loss $l_i$"),
        ("grad_norm", r"gradient norm $|g_i|$"),
        ("cos_update", r"cos$(g_i, \sum_j w_j g_j)$"),
    ]
    for ax, (key, title) in zip(axes[0, :3], per_task, strict=True):
        values = np.stack([record.trajectory(f"{key}_{i}") for i in range(len(task_names))])
        for i, task in enumerate(task_names):
            _plot_noisy(ax, step, values[i], color=f"C{i}", label=task)
        _log_if_wide(ax, values)
        ax.set(title=title)
    axes[0, 0].legend()
    weights = np.stack([record.trajectory(f"weight_{i}") for i in range(len(task_names))])
    uniform = np.allclose(weights, weights[:1])
    for ax, key, title in [(axes[0, 3], "gms", "GMS"), (axes[1, 0], "cond", "condition number")]:
        _plot_noisy(ax, step, record.trajectory(key), color="k", label="weighted $w_i g_i$")
        # With equal weights the raw metric is the weighted one: one line suffices.
        if not uniform:
            _plot_noisy(ax, step, record.trajectory(f"{key}_raw"), color="0.5", ls=":", label="raw $g_i$")
            ax.legend()
        _log_if_wide(ax, record.trajectory(key))
        ax.set(title=title)
    spreads = [
        (axes[1, 1], "cos", "mean pairwise cosine"),
        (axes[1, 2], "itr_std", "std of rel. inverse training rate"),
        (axes[1, 3], "rls_std", "std of rel. loss scale"),
    ]
    for ax, key, title in spreads:
        _plot_noisy(ax, step, record.trajectory(key), color="k")
        ax.set(title=title)
    axes[1, 1].axhline(0, color="0.6", lw=0.8, ls=":")
    for ax in axes.flat:
        ax.set_xlabel("step")
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
    return fig


def plot_loss_windows(window_metrics: Mapping[str, np.ndarray], task_names: Sequence[str], window: int) -> Figure:
    """Windowed loss metrics (:func:`autoscale.book.inspect_gradients.window_loss_metrics`), 1 x 3 panels:
    window-mean losses, loss descending rate between consecutive windows, loss variance per window."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3), constrained_layout=True)
    step = window_metrics["step"]
    panels = [
        (axes[0], step, "mean", f"window-mean loss (τ = {window})"),
        (axes[1], step[1:], "descending_rate", "loss descending rate $(l_{prev} - l)/l_{prev}$"),
        (axes[2], step, "variance", "loss variance within the window"),
    ]
    for ax, x, key, title in panels:
        for i, task in enumerate(task_names):
            ax.plot(x, window_metrics[key][:, i], marker="o", ms=3, color=f"C{i}", label=task)
        _log_if_wide(ax, window_metrics[key])
        ax.set(title=title, xlabel="step (window centre)")
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
    axes[1].axhline(0, color="0.6", lw=0.8, ls=":")
    axes[0].legend()
    return fig
