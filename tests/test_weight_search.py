"""Chapter "Searching the weights": PBT lineages, the approaches' Δm, costs and paired differences,
and the figures' geometry, on hand-made records and PBT results."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
from helpers import record
from test_results import stl_records

from autoscale.book.plots.weight_search import _simplex_xy, plot_pbt_trajectories, plot_search_cost
from autoscale.book.results import MainResults
from autoscale.book.weight_search import WeightSearch, findings, pbt_lineage, pbt_search_table
from autoscale.experiments.plans import SweepPlan

matplotlib.use("Agg")

SEEDS = (0, 1, 2)


def report(member, epoch, weights, val, copied_from=None, test=None):
    row = {"member": member, "epoch": epoch, "weights": weights, "val_delta_m": val, "copied_from": copied_from}
    if test is not None:
        row["test"] = test
    return row


def pbt_result(seed=0, a=53.0):
    """Three members over epochs 1-3: member 2 copies member 0 at epoch 2, member 1 copies member 2
    at epoch 3; member 2 ends best on validation. Its final test metrics are ``a`` and b = 2."""
    reports = [
        report(0, 1, [1.2, 0.8], -1.0),
        report(1, 1, [0.4, 1.6], 2.0),
        report(2, 1, [1.0, 1.0], 1.0),
        report(0, 2, [1.2, 0.8], -1.5),
        report(1, 2, [0.4, 1.6], 2.5),
        report(2, 2, [1.3, 0.7], -1.6, copied_from=0),
        report(0, 3, [1.2, 0.8], -1.7, test={"a": 52.0, "b": 2.0}),
        report(1, 3, [1.4, 0.6], -1.8, copied_from=2, test={"a": 52.5, "b": 2.0}),
        report(2, 3, [1.3, 0.7], -2.0, test={"a": a, "b": 2.0}),
    ]
    finals = [r for r in reports if "test" in r]
    return {
        "config": {"population": 3, "ready_epochs": 1, "seed": seed},
        "reports": reports,
        "exploits": 2,
        "final": finals,
        "best": min(finals, key=lambda r: r["val_delta_m"]),
        "wall_seconds": 90.0,
    }


def test_lineage_follows_each_exploit_back_to_its_donor():
    result = pbt_result()
    lineage = pbt_lineage(result)
    assert [(r["member"], r["epoch"]) for r in lineage] == [(0, 1), (2, 2), (2, 3)]
    assert [r["weights"] for r in lineage] == [[1.2, 0.8], [1.3, 0.7], [1.3, 0.7]]
    # Member 1 copied member 2 at epoch 3, which had copied member 0 at epoch 2.
    assert [(r["member"], r["epoch"]) for r in pbt_lineage(result, member=1)] == [(0, 1), (2, 2), (1, 3)]
    result["reports"] = [r for r in result["reports"] if (r["member"], r["epoch"]) != (0, 1)]
    with pytest.raises(ValueError, match="member 0 has no report at epoch 1"):
        pbt_lineage(result)


def fake_search():
    """Two tasks (a higher-is-better with baseline 50, b at its baseline 2): Δm = -(a - 50) / 50 · 100 / 2.
    AutoScale a = (52, 52.1, 51.9): Δm (-2, -2.1, -1.9); PBT's best a = (53, 53.5, 52.5): Δm (-3, -3.5, -2.5);
    grid: (1.5, 0.5) at a = 52.5 chosen over (1, 1) at 50; random: 2 trials on seed 0, (0.5, 1.5) chosen."""
    plan = SweepPlan("bench", "cpu", ["a", "b"], [[1.0, 1.0], [1.5, 0.5]], list(SEEDS), [], [])
    ls = [record("linear", s, test={"a": 50.0, "b": 2.0}, weights=[1.0, 1.0]) for s in SEEDS]
    ls += [record("linear", s, test={"a": 52.5, "b": 2.0}, weights=[1.5, 0.5]) for s in SEEDS]
    methods = {
        "unitary": [record("unitary", s, test={"a": 50.0, "b": 2.0}) for s in SEEDS],
        "autoscale": [
            record("autoscale", s, test={"a": a, "b": 2.0}) for s, a in zip(SEEDS, (52.0, 52.1, 51.9), strict=True)
        ],
    }
    trials = [
        record("linear", 0, test={"a": 51.0, "b": 2.0}, weights=[0.5, 1.5]),
        record("linear", 0, test={"a": 50.0, "b": 2.0}, weights=[1.0, 1.0]),
    ]
    chosen = [record("linear", s, test={"a": 51.0, "b": 2.0}, weights=[0.5, 1.5]) for s in (1, 2)]
    main = MainResults(plan, ls, stl_records(seeds=SEEDS), methods, trials, chosen)
    for r in main.records():
        r.data["wall_seconds"] = 30.0
    pbt = {s: pbt_result(s, a) for s, a in zip(SEEDS, (53.0, 53.5, 52.5), strict=True)}
    return WeightSearch("bench", main, pbt)


def test_each_approach_is_judged_against_the_same_baseline_and_paired_with_autoscale():
    ws = fake_search()
    dm = ws.delta_m()
    assert list(dm) == ["unitary", "grid", "random", "pbt", "autoscale"]
    assert dm["pbt"] == pytest.approx({0: -3.0, 1: -3.5, 2: -2.5})
    assert dm["grid"] == pytest.approx({0: -2.5, 1: -2.5, 2: -2.5})
    assert dm["random"] == pytest.approx({0: -1.0, 1: -1.0, 2: -1.0})
    # PBT - AutoScale per seed (-1, -1.4, -0.6): mean -1, sd 0.4, half-width 4.3027 · 0.4 / √3 = 0.9937.
    d = ws.paired("pbt")
    assert d.mean == pytest.approx(-1.0)
    assert d.high == pytest.approx(-1.0 + 4.302653 * 0.4 / math.sqrt(3), abs=1e-5)
    assert d.sign == -1
    table = ws.table()
    assert table.loc["PBT", "weights"] == "(1.30, 0.70); (1.30, 0.70); (1.30, 0.70)"
    assert table.loc["grid search", "weights"] == "(1.50, 0.50)"
    assert table.loc["random search", "weights"] == "(0.50, 1.50)"
    assert math.isnan(table.loc["AutoScale", "− AutoScale"])


def test_costs_count_runs_trained_over_all_seeds():
    ws = fake_search()
    # unitary and AutoScale: one run per seed; grid: 2 sets x 3 seeds; random: 2 trials + 2 chosen;
    # PBT: 3 members x 3 searches.
    assert ws.runs_trained() == {"unitary": 3, "grid": 6, "random": 4, "pbt": 9, "autoscale": 3}
    minutes = ws.measured_minutes()
    assert minutes["grid"] == pytest.approx(6 * 30 / 60)
    assert minutes["pbt"] == pytest.approx(3 * 90 / 60)
    table = pbt_search_table(ws)
    assert table["best member"].tolist() == [2, 2, 2] and table["exploits"].tolist() == [2, 2, 2]
    assert table["test Δm"].tolist() == pytest.approx([-3.0, -3.5, -2.5])


def test_simplex_projection_puts_the_corners_and_the_centre_where_a_ternary_plot_does():
    x, y = _simplex_xy(np.eye(3) * 3)
    assert np.allclose(x, [0, 1, 0.5]) and np.allclose(y, [0, 0, math.sqrt(3) / 2])
    cx, cy = _simplex_xy(np.array([1.0, 1.0, 1.0]))
    assert cx == pytest.approx(0.5) and cy == pytest.approx(math.sqrt(3) / 6)


@pytest.mark.parametrize("k, panels", [(2, 2), (3, 2), (4, 5)])
def test_trajectory_figure_has_a_weight_panel_per_task_beyond_three(k, panels):
    result = pbt_result()
    for row in result["reports"]:
        row["weights"] = list(np.resize(row["weights"], k) * k / np.resize(row["weights"], k).sum())
    tasks = [f"t{i}" for i in range(k)]
    fig = plot_pbt_trajectories(result, tasks, "bench", references={"grid": [1.0] * k})
    assert len(fig.axes) == panels
    fig2 = plot_search_cost({"bench": fake_search()})
    assert len(fig2.axes) == 1


def test_findings_name_what_each_interval_resolves():
    (line,) = findings({"bench": fake_search()})
    assert line.startswith(
        "- **bench** (AutoScale: 3 runs): PBT − AutoScale -1.00 [-1.99, -0.01] (3 seeds), PBT better (9 runs);"
    )
    # Grid − AutoScale per seed (-0.5, -0.4, -0.6): half-width 4.3027 · 0.1 / √3 = 0.248.
    assert "grid search − AutoScale -0.50 [-0.75, -0.25] (3 seeds), grid search better (6 runs)" in line
    one = fake_search()
    one.pbt = {0: one.pbt[0]}
    assert "PBT − AutoScale -1.00 (1 seed, no interval) (3 runs)" in findings({"bench": one})[0]
