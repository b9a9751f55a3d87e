"""The capacity study's statistics on hand-made sweeps: Kendall's τ across widths and between seeds,
the gain of joint training per width, per-layer conflict against Δm; and the plan's configs."""

from __future__ import annotations

import pytest
from helpers import record
from test_results import stl_records

from autoscale.book.capacity import CapacityStudy, conflict_table, run_conflict
from autoscale.book.study import Sweep
from autoscale.experiments.plans import SweepPlan, capacity_configs, capacity_plan, ls_sweep_plan
from autoscale.experiments.store import config_hash

SEEDS = (0, 1, 2)
SETS = ([1.0, 1.0], [1.5, 0.5], [0.5, 1.5])


def sweep(
    width: float, dm_by_set: dict[int, float], conflict: float = 0.5, noise=(0.0, 0.0, 0.0), per_set=0.1
) -> Sweep:
    """Task b sits at its baseline, so test Δm = 50 - a (baseline a = 50, higher better, two tasks);
    validation equals test. Each run logs two steps of layer conflict (conflict, conflict)."""
    plan = capacity_plan("multimnist", "smoke", width)
    plan = SweepPlan("multimnist", "smoke", ["a", "b"], [list(w) for w in SETS], list(SEEDS), plan.ls_configs, [])
    ls = []
    for i, weights in enumerate(SETS):
        for s, eps in zip(SEEDS, noise, strict=True):
            metrics = {"step": [0, 1], "layer_conflict/conv": [conflict + i * per_set, conflict + i * per_set]}
            ls.append(
                record("linear", s, test={"a": 50.0 - dm_by_set[i] - eps, "b": 2.0}, weights=weights, metrics=metrics)
            )
    return Sweep(plan, ls, stl_records(seeds=SEEDS))


def test_kendall_tau_across_widths_and_the_seed_ceiling():
    # Width 1 ranks the sets (1, 2, 3) by Δm; width 2 as (1, 3, 2): one discordant pair of three,
    # τ = (2 - 1) / 3. Without seed noise every seed ranks alike: τ = 1 between seeds.
    study = CapacityStudy("multimnist", {1.0: sweep(1.0, {0: 1, 1: 2, 2: 3}), 2.0: sweep(2.0, {0: 1, 1: 3, 2: 2})})
    table = study.kendall_table(n_boot=200)
    assert table.loc["×1 vs ×2", "τ"] == pytest.approx(1 / 3)
    assert table.loc["×1: seed vs seed", "τ"] == pytest.approx(1.0)
    assert table.loc["×1 vs ×2", "weight sets"] == 3


def test_gain_per_width_uses_equal_weights_and_the_validation_choice():
    # Width 1: (1, 1) at Δm 1 on every seed, the others worse: the grid's choice is (1, 1). Width 2:
    # (1.5, 0.5) best at Δm -2 (seed noise 0, 0.3, -0.3 on every set: mean -2, t interval over seeds).
    study = CapacityStudy(
        "multimnist",
        {1.0: sweep(1.0, {0: 1, 1: 2, 2: 3}), 2.0: sweep(2.0, {0: 0, 1: -2, 2: 1}, noise=(0.0, 0.3, -0.3))},
    )
    gain = study.gain_table()
    assert gain.loc["×1", "grid's choice"] == "(1.00, 1.00)" and gain.loc["×2", "grid's choice"] == "(1.50, 0.50)"
    assert gain.loc["×1", "Δm equal weights"] == pytest.approx(1.0)
    assert gain.loc["×2", "Δm grid's choice"] == pytest.approx(-2.0)
    assert gain.loc["×2", "grid's choice high"] - gain.loc["×2", "Δm grid's choice"] == pytest.approx(
        4.302653 * 0.3 / 3**0.5, abs=1e-5
    )
    assert gain.loc["×1", "Δm mean of all sets"] == pytest.approx(2.0)
    # MultiLeNet's encoder: 10*1*25+10 + 20*10*25+20 + 50*320+50 = 21,330 parameters at width 1.
    assert gain.loc["×1", "encoder parameters"] == 21_330


def test_conflict_is_averaged_per_run_and_related_to_delta_m():
    study = CapacityStudy("multimnist", {1.0: sweep(1.0, {0: 1, 1: 2, 2: 3}, conflict=0.2)})
    assert run_conflict(study.sweeps[1.0].ls[0]) == {"conv": pytest.approx(0.2)}
    table = conflict_table(study)
    # Per-set conflict 0.2, 0.3, 0.4 rises with Δm 1, 2, 3: ρ = 1; spread over sets 0.2.
    row = table.loc[("×1", "conv")]
    assert row["conflict share"] == pytest.approx(0.3)
    assert row["spread over weight sets"] == pytest.approx(0.2)
    assert row["ρ(Δm, conflict)"] == pytest.approx(1.0)


def test_width_one_is_the_books_sweep_and_other_widths_only_change_the_model():
    book = ls_sweep_plan("multimnist", "cpu")
    same = capacity_plan("multimnist", "cpu", 1.0)
    assert [config_hash(c) for c in same.ls_configs] == [config_hash(c) for c in book.ls_configs]
    wide = capacity_plan("multimnist", "cpu", 2.0)
    assert all(c.model == {"width": 2.0} for c in (*wide.ls_configs, *wide.stl_configs))
    assert len(wide.ls_configs) == len(book.ls_configs) and len(wide.stl_configs) == len(book.stl_configs)
    # cpu: MultiMNIST at widths 0.5, 1 and 2, each 9 weight sets and 2 single-task runs over 3 seeds.
    assert len(capacity_configs("cpu")) == 3 * (9 + 2) * 3


def test_the_figure_has_three_panels_per_benchmark():
    import matplotlib

    matplotlib.use("Agg")
    from autoscale.book.plots.capacity import plot_capacity

    study = CapacityStudy("multimnist", {1.0: sweep(1.0, {0: 1, 1: 2, 2: 3}), 2.0: sweep(2.0, {0: 1, 1: 3, 2: 2})})
    fig = plot_capacity({"a": study, "b": study})
    assert len(fig.axes) == 6
