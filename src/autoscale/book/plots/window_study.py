"""The window-count study's figure (beyond the paper): AutoScale's predicted weights and how often
they switch a task off against the number of exploration windows, and Δm against it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from autoscale.book.plots.results import PREDICTOR_STYLES
from autoscale.book.window_study import PREDICTOR_LABELS, switch_off_share


def plot_window_count(
    prefixes: Mapping[str, pd.DataFrame],
    tau_tables: Mapping[str, pd.DataFrame],
    tasks: Mapping[str, Sequence[str]],
    default_windows: Mapping[str, int],
) -> Figure:
    """One row per benchmark: (1) L.E.'s ŵ from the first n windows of the α = 1 runs (each seed
    faint, the mean bold, one colour per task); (2) the share of seeds whose prediction switches a
    task off, per predictor; (3) test Δm of the shorter-window runs against their window count,
    with 95% t intervals over seeds. The dotted line marks the window count of the default run."""
    fig, axes = plt.subplots(
        len(prefixes), 3, figsize=(12, 3.3 * len(prefixes)), constrained_layout=True, squeeze=False
    )
    for row, (benchmark, prefix) in enumerate(prefixes.items()):
        ax_w, ax_off, ax_dm = axes[row]
        linear = prefix[prefix["predictor"] == "linear"]
        for k, task in enumerate(tasks[benchmark]):
            for _, seed_rows in linear.groupby("seed"):
                ax_w.plot(seed_rows["windows"], seed_rows[task], color=f"C{k}", alpha=0.25, lw=0.8)
            mean = linear.groupby("windows")[task].mean()
            ax_w.plot(mean.index, mean.to_numpy(), color=f"C{k}", lw=2, label=task)
        ax_w.set(xlabel="windows explored (α = 1 run, prefix)", ylabel="L.E. weight ŵ_i (sum K)", title=benchmark)
        ax_w.legend()
        share = switch_off_share(prefix)
        for name, label in PREDICTOR_LABELS.items():
            colour, style = PREDICTOR_STYLES[name]
            ax_off.plot(share.index, share[label], color=colour, ls=style, label=label, marker=".", ms=3)
        ax_off.set(xlabel="windows explored", ylabel="share of seeds", title="a task switched off", ylim=(-0.05, 1.05))
        ax_off.legend()
        table = tau_tables.get(benchmark)
        if table is not None:
            table = table[table["windows"] > 0]  # a run too short to close a window has no count to draw
        if table is not None and len(table):
            dm = table["Δm"].to_numpy()
            error = [dm - table["Δm low"].to_numpy(), table["Δm high"].to_numpy() - dm]
            ax_dm.errorbar(
                table["windows"], dm, yerr=error, marker="o", capsize=3, color="C2", label="AutoScale (L.E.)"
            )
            ax_dm.set_xscale("log")
            ax_dm.set_xticks(table["windows"].to_numpy())
            ax_dm.xaxis.set_major_formatter(ScalarFormatter())
            ax_dm.xaxis.set_minor_formatter(NullFormatter())
        ax_dm.set(xlabel="windows explored (τ varied, α T fixed)", ylabel="Δm (%)  ↓ better", title="test Δm")
        for ax in (ax_w, ax_off, ax_dm):
            ax.axvline(default_windows[benchmark], color="0.6", lw=0.8, ls=":")
    return fig
