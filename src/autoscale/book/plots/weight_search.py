"""Figures of chapter "Searching the weights": Δm against the training each search costs, and the
PBT population's weights over training (on the simplex for K = 3 tasks, per task otherwise)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from autoscale.book.paired import mean_interval
from autoscale.book.plots.layout import spaced_ticks
from autoscale.book.weight_search import APPROACH_LABELS, WeightSearch, pbt_lineage

APPROACH_STYLES = {
    "unitary": ("C7", "o"),
    "grid": ("C0", "s"),
    "random": ("C1", "^"),
    "pbt": ("C3", "D"),
    "autoscale": ("C2", "*"),
}


def plot_search_cost(searches: Mapping[str, WeightSearch]) -> Figure:
    """One panel per benchmark: test Δm (mean over seeds, 95% t interval) of each approach against
    the runs it trains over all seeds (log scale)."""
    fig, axes = plt.subplots(
        1, len(searches), figsize=(4.2 * len(searches), 3.4), constrained_layout=True, squeeze=False
    )
    for ax, (benchmark, ws) in zip(axes[0], searches.items(), strict=True):
        runs = ws.runs_trained()
        seen: dict[float, int] = {}
        for approach, by_seed in ws.delta_m().items():
            colour, marker = APPROACH_STYLES[approach]
            m = mean_interval(by_seed)
            error = None if math.isnan(m.low) else [[m.mean - m.low], [m.high - m.mean]]
            # Approaches with the same cost side by side (a few percent apart on the log axis).
            nudge = 1.07 ** seen.get(runs[approach], 0)
            seen[runs[approach]] = seen.get(runs[approach], 0) + 1
            ax.errorbar(
                runs[approach] * nudge, m.mean, yerr=error, color=colour, marker=marker, ms=9 if marker == "*" else 6,
                capsize=3, label=APPROACH_LABELS[approach], ls="none",
            )  # fmt: skip
        ax.set_xscale("log")
        ticks = spaced_ticks(list(runs.values()))
        ax.set_xticks(ticks, [f"{t:.0f}" for t in ticks])
        ax.minorticks_off()
        ax.set(xlabel="runs trained (all seeds)", ylabel="test Δm (%)  ↓ better", title=benchmark)
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    return fig


def _simplex_xy(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric (w_1, w_2, w_3) / K to the plane: task 1 at (0, 0), 2 at (1, 0), 3 at the apex."""
    p = np.asarray(weights, dtype=float)
    p = p / p.sum(axis=-1, keepdims=True)
    return p[..., 1] + p[..., 2] / 2, p[..., 2] * math.sqrt(3) / 2


def _member_steps(result: Mapping) -> dict[int, list[dict]]:
    members: dict[int, list[dict]] = {}
    for row in result["reports"]:
        members.setdefault(row["member"], []).append(row)
    return {m: sorted(rows, key=lambda r: r["epoch"]) for m, rows in sorted(members.items())}


def _step_xy(rows: Sequence[dict], value) -> tuple[list[float], list[float]]:
    """A step line: each report's value held over the interval that ends at its epoch."""
    xs, ys, start = [], [], 0
    for row in rows:
        xs += [start, row["epoch"]]
        ys += [value(row), value(row)]
        start = row["epoch"]
    return xs, ys


def _draw_per_task(
    axes: Sequence[Axes], result: Mapping, tasks: Sequence[str], references: Mapping[str, Sequence[float]]
) -> None:
    lineage = pbt_lineage(result)
    for k, ax in enumerate(axes):
        for rows in _member_steps(result).values():
            ax.plot(*_step_xy(rows, lambda r, k=k: r["weights"][k]), color="0.6", lw=0.8, alpha=0.7)
            exploits = [
                (r, rows[i - 1]["epoch"] if i else 0) for i, r in enumerate(rows) if r["copied_from"] is not None
            ]
            ax.plot([s for _, s in exploits], [r["weights"][k] for r, _ in exploits], "x", color="C3", ms=4)
        ax.plot(*_step_xy(lineage, lambda r, k=k: r["weights"][k]), color="k", lw=2, label="best member's lineage")
        for i, (name, w) in enumerate(references.items()):
            ax.axhline(w[k], color=f"C{i}", ls=":", lw=1.2, label=name)
        ax.set(xlabel="epoch", ylabel=f"w ({tasks[k]})", ylim=(0, len(tasks)))
    axes[0].legend()


def _draw_simplex(ax: Axes, result: Mapping, tasks: Sequence[str], references: Mapping[str, Sequence[float]]) -> None:
    corners = np.eye(3)
    cx, cy = _simplex_xy(corners)
    ax.plot([*cx, cx[0]], [*cy, cy[0]], color="k", lw=0.8)
    for x, y, name, (dx, dy) in zip(cx, cy, tasks, [(-0.03, -0.06), (0.03, -0.06), (0, 0.04)], strict=True):
        ax.text(x + dx, y + dy, name, ha="center")
    for rows in _member_steps(result).values():
        x, y = _simplex_xy(np.array([r["weights"] for r in rows]))
        ax.plot(x, y, color="0.6", lw=0.8, marker=".", ms=3, alpha=0.7)
    x, y = _simplex_xy(np.array([r["weights"] for r in pbt_lineage(result)]))
    ax.plot(x, y, color="k", lw=2, marker="o", ms=3, label="best member's lineage")
    ax.plot(x[-1], y[-1], "k*", ms=10)
    for i, (name, w) in enumerate(references.items()):
        rx, ry = _simplex_xy(np.array(w))
        ax.plot(rx, ry, marker="s", color=f"C{i}", ls="none", ms=6, label=name)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(loc="upper right")


def plot_pbt_trajectories(
    result: Mapping, tasks: Sequence[str], title: str, references: Mapping[str, Sequence[float]] | None = None
) -> Figure:
    """One PBT search: its members' weights over training and their validation Δm.

    Weights: K = 2, w_1 against the epoch (w_2 = 2 - w_1: the simplex is a segment); K = 3, the
    members' weight sets on the simplex, each member's reports joined in epoch order; K >= 4, one
    panel per task. Grey: every member (× where an exploit copied a donor and perturbed its weights);
    black: the best member's lineage, the weight schedule that trained its final model. Dotted or
    squares: ``references`` (e.g. the grid's and the random search's chosen weights). Last panel:
    each member's validation Δm at its reports, the lineage in black."""
    references = dict(references or {})
    k = len(tasks)
    weight_panels = 1 if k <= 3 else k
    fig, axes = plt.subplots(
        1, weight_panels + 1, figsize=(3.6 * (weight_panels + 1), 3.4), constrained_layout=True, squeeze=False
    )
    axes = list(axes[0])
    if k == 3:
        _draw_simplex(axes[0], result, tasks, references)
    else:
        _draw_per_task(axes[:weight_panels], result, tasks, references)
    for rows in _member_steps(result).values():
        axes[-1].plot([r["epoch"] for r in rows], [r["val_delta_m"] for r in rows], color="0.6", marker=".", lw=0.8)
    lineage = pbt_lineage(result)
    axes[-1].plot([r["epoch"] for r in lineage], [r["val_delta_m"] for r in lineage], color="k", lw=2, marker="o", ms=3)
    axes[-1].set(xlabel="epoch", ylabel="validation Δm (%)  ↓ better", title="population")
    axes[0].set_title(title if k != 3 else f"{title}: weights on the simplex")
    return fig
