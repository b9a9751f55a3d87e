"""Panel layout of the book's per-task figures (:mod:`autoscale.book.plots.layout`): panels wrap into
rows, the legend sits under them, and the Fig. 4 / Fig. 7 builders use that layout."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from autoscale.book.plots.layout import legend_below, panel_grid
from autoscale.book.plots.results import plot_predictors, plot_window_weights
from autoscale.experiments.run_record import RunRecord


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize(("n", "rows"), [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)])
def test_panel_grid_wraps_rows_and_drops_unused_cells(n, rows):
    fig, axes = panel_grid(n, max_columns=3, panel_size=(3.0, 2.0))
    assert len(axes) == n and len(fig.axes) == n
    assert fig.get_size_inches() == pytest.approx((3.0 * min(n, 3), 2.0 * rows))


def test_panel_grid_rejects_no_panels():
    with pytest.raises(ValueError, match="at least one panel"):
        panel_grid(0)


def test_legend_below_is_one_figure_legend():
    fig, axes = panel_grid(2)
    for i, ax in enumerate(axes):
        ax.plot([0, 1], [0, i], label="line")
    legend_below(fig, *axes[0].get_legend_handles_labels())
    assert len(fig.legends) == 1 and [t.get_text() for t in fig.legends[0].get_texts()] == ["line"]


def _autoscale_record(tasks: list[str]) -> RunRecord:
    k = len(tasks)
    rng = np.random.default_rng(0)
    windows = rng.uniform(0.5, 1.5, size=(3, k))
    windows *= k / windows.sum(axis=1, keepdims=True)
    return RunRecord(
        {
            "tasks": {t: {"primary": "err", "higher_is_better": {"err": False}} for t in tasks},
            "total_steps": 100,
            "steps": {"weights": rng.uniform(0, 1, size=(100, k)).tolist()},
            "method": {
                "window_steps": [5.0, 10.0, 15.0],
                "window_weights": windows.tolist(),
                "switch_step": 20,
                "final_weights": windows[-1].tolist(),
                "config": {"window": 5, "gamma": 0.5},
            },
        }
    )


def test_four_task_figures_use_two_rows_of_two_panels():
    tasks = ["depth", "edge", "normal", "semantic"]
    record = _autoscale_record(tasks)
    for fig in (plot_predictors(record, title="indoor"), plot_window_weights({"IMTL-G": [record]}, title="indoor")):
        assert [ax.get_title() for ax in fig.axes] == tasks
        assert len({round(ax.get_position().y0, 3) for ax in fig.axes}) == 2
        assert len(fig.legends) == 1


def test_ticks_on_a_log_axis_keep_their_distance():
    from autoscale.book.plots.layout import spaced_ticks

    # The search-cost figure's costs: 22, 24 and 27 runs would print as one smudge.
    assert spaced_ticks([24, 3, 22, 27, 57, 209, 22]) == [3, 22, 57, 209]
    assert spaced_ticks([1, 2, 3, 4], ratio=2) == [1, 2, 4]  # a value exactly `ratio` times the last is kept
    assert spaced_ticks([]) == []


def test_every_method_has_one_colour_of_its_own():
    from autoscale.book.plots.layout import method_colour
    from autoscale.methods import table_methods

    rows = (*table_methods(), "searched", "random")
    colours = [method_colour(m) for m in rows]
    assert len(set(colours)) == len(rows)
    assert method_colour("autoscale") == (0.0, 0.0, 0.0, 1.0)
    assert method_colour("uw") == method_colour("uw")  # the same in every figure
