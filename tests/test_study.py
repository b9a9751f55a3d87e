"""The metric study: run averages, loss descending rate, Spearman + bootstrap, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import record

from autoscale import metrics
from autoscale.book.study import (
    APPENDIX_B1_METRICS,
    STUDY_METRICS,
    Sweep,
    appendix_a_table,
    by_weight_set,
    correlation_table,
    improvement_ratio_trajectory,
    loss_descending_trajectory,
    loss_variance_trajectory,
    pick_examples,
    run_average,
    spearman_bootstrap,
    study_trajectory,
    sweep_table,
    verdict,
)
from autoscale.experiments.run_record import RunRecord


def fake_record(weights, acc_left, acc_right, gms=0.5, cond=10.0, seed=0, steps=8):
    losses = [[1.0 / (1 + t), 2.0 / (1 + t)] for t in range(steps)]
    logged = {
        "step": [0, 4],
        "gms": [gms, gms],
        "cos": [0.1, 0.1],
        "cond": [cond, cond * 100],
        "itr_std": [0.0, 0.2],
        "rls_std": [0.3, 0.3],
    }
    return RunRecord(
        {
            "config": {"method_options": {"weights": list(weights)}, "metrics_every": 1, "seed": seed},
            "tasks": {t: {"primary": "acc", "higher_is_better": {"acc": True}} for t in ("left", "right")},
            "final": {"test": {"left": {"acc": acc_left}, "right": {"acc": acc_right}}},
            "steps": {"loss": losses, "weights": [list(weights)] * steps, "time_s": [0.01] * steps},
            "metrics": logged,
            "median_step_time_s": 0.01,
        }
    )


def test_loss_descending_rate_on_halving_losses():
    # Weighted losses 8, 8, 4, 4, 2, 2 with window 2 → window means 8, 4, 2 → rate 0.5 twice.
    record = RunRecord({"steps": {"loss": [[8.0], [8.0], [4.0], [4.0], [2.0], [2.0]], "weights": [[1.0]] * 6}})
    rate, steps = loss_descending_trajectory(record, window=2)
    np.testing.assert_allclose(rate, [0.5, 0.5])
    np.testing.assert_array_equal(steps, [4, 6])


def test_run_average_uses_log10_for_condition_number():
    record = fake_record([1, 1], 90, 90, cond=10.0)
    assert run_average(record, "cond") == pytest.approx((1 + 3) / 2)  # log10 of 10 and 1000
    assert run_average(record, "gms") == pytest.approx(0.5)
    assert run_average(record, "cond", first_step=4) == pytest.approx(3.0)  # only step 4: log10(1000)
    assert math.isnan(run_average(record, "cond", first_step=0, last_step=0))  # no step in [0, 0)
    record.data["metrics"]["gms"] = [float("nan"), 0.7]
    assert run_average(record, "gms") == pytest.approx(0.7)


def test_sweep_table_averages_seeds():
    baseline = {"left": 100.0, "right": 100.0}
    records = [
        fake_record([0.5, 1.5], 90, 80, seed=0),
        fake_record([0.5, 1.5], 80, 90, seed=1),
        fake_record([1.0, 1.0], 95, 95),
    ]
    table = sweep_table(records, baseline)
    assert table.loc["(0.50, 1.50)", "seeds"] == 2
    assert table.loc["(0.50, 1.50)", "Δm"] == pytest.approx(15.0)  # both seeds lose 15% on average
    assert table.loc["(1.00, 1.00)", "Δm"] == pytest.approx(5.0)
    assert set(m.key for m in STUDY_METRICS) <= set(table.columns)


def single_task(task, acc):
    return RunRecord(
        {
            "config": {"seed": 0},
            "tasks": {task: {"primary": "acc", "higher_is_better": {"acc": True}}},
            "final": {"test": {task: {"acc": acc}}},
        }
    )


def test_weight_sets_group_seeds_in_first_seen_order():
    records = [
        fake_record([0.5, 1.5], 90, 80, seed=0),
        fake_record([1, 1], 95, 95),
        fake_record([0.5, 1.5], 80, 90, seed=1),
    ]
    groups = by_weight_set(records)
    assert list(groups) == ["(0.50, 1.50)", "(1.00, 1.00)"]
    assert [r.seed for r in groups["(0.50, 1.50)"]] == [0, 1]
    sweep = Sweep(plan=None, ls=records, stl=[single_task("left", 100.0), single_task("right", 100.0)])
    assert sweep.baseline() == {"left": 100.0, "right": 100.0}
    table = sweep.weight_set_table()
    assert list(table.index) == ["w = (0.50, 1.50)", "w = (1.00, 1.00)"]
    assert table.loc["w = (0.50, 1.50)", "left"] == pytest.approx(85.0)  # mean of 90 and 80 over the seeds
    assert table.loc["w = (1.00, 1.00)", "Δm"] == pytest.approx(5.0)


def test_spearman_bootstrap_monotone_and_independent():
    x = np.arange(12.0)
    rho, low, high = spearman_bootstrap(x, 3 * x + 1, n_boot=200)
    assert rho == pytest.approx(1.0) and low == pytest.approx(1.0) and high == pytest.approx(1.0)
    rho, low, high = spearman_bootstrap(x, -np.exp(x), n_boot=200)
    assert rho == pytest.approx(-1.0) and high == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    rho, low, high = spearman_bootstrap(rng.normal(size=40), rng.normal(size=40), n_boot=400)
    assert low < 0 < high
    assert all(math.isnan(v) for v in spearman_bootstrap([1, 2], [3, 4]))


@pytest.mark.parametrize(
    "claim,low,high,expected",
    [
        (-1, -0.9, -0.2, "holds"),
        (-1, 0.2, 0.9, "opposite"),
        (-1, -0.5, 0.3, "inconclusive (interval includes 0)"),
        (+1, 0.1, 0.8, "holds"),
        (0, -0.4, 0.4, "holds (no significant relation)"),
        (0, 0.3, 0.9, "does not hold (relation found)"),
        (1, float("nan"), 0.1, "undetermined"),
    ],
)
def test_verdict(claim, low, high, expected):
    assert verdict(claim, low, high) == expected


def test_correlation_table_and_examples():
    baseline = {"left": 100.0, "right": 100.0}
    # Higher GMS ↔ higher accuracy (lower Δm): the paper's claim for GMS holds by construction.
    records = [
        fake_record([w, 2 - w], 80 + 10 * g, 80 + 10 * g, gms=g)
        for w, g in zip(np.linspace(0.2, 1.8, 9), np.linspace(0.1, 0.9, 9), strict=True)
    ]
    table = sweep_table(records, baseline)
    corr = correlation_table({"toy": table}, n_boot=200).set_index("metric")
    assert corr.loc["gradient magnitude similarity", "ρ(Δm, metric)"] == pytest.approx(-1.0)
    assert corr.loc["gradient magnitude similarity", "verdict"] == "holds"
    examples = pick_examples(table)
    assert len(examples["good"]) == 3 and len(examples["bad"]) == 3 and len(examples["moderate"]) == 1
    assert table.loc[examples["good"][0], "Δm"] == table["Δm"].min()


def test_appendix_a_table_reads_the_logged_balance_metrics():
    metrics = {
        "step": [0, 5, 9],
        "gms": [1.0, 1.0, 1.0],
        "gms_raw": [0.4, 0.5, 0.6],
        "rls_std": [0.1, 0.2, 0.3],
        "cos_update_0": [0.7, 0.7, 0.7],
        "cos_update_1": [0.5, 0.6, 0.7],
    }
    runs = []
    for seed in (0, 1):
        r = record("imtlg", seed, metrics=metrics)
        r.data["total_steps"] = 10
        runs.append(r)
    table = appendix_a_table({"imtlg": runs, "rlw": runs})
    assert list(table.index) == ["imtlg"]  # RLW is not one of Appendix A's methods
    row = table.loc["imtlg"]
    assert row["seeds"] == 2 and row["GMS, weighted"] == 1.0 and row["GMS, raw"] == pytest.approx(0.5)
    assert row["cos to update: spread over tasks"] == pytest.approx(0.1)  # 0.7 - mean(0.5, 0.6, 0.7)
    # First 10% of 10 steps: step 0 only; last 10%: step 9 only.
    assert row["loss-scale spread, first 10%"] == pytest.approx(0.1)
    assert row["loss-scale spread, last 10%"] == pytest.approx(0.3)


def test_appendix_b1_loss_metrics_by_hand():
    # Task 0 halves from window to window, task 1 stays: improvement ratios 0.5 and 1, std 0.25.
    # Within each 2-step window the losses are m - d and m + d: variance d^2, relative d^2 / m^2.
    losses = [[7.0, 1.0], [9.0, 3.0], [3.5, 1.0], [4.5, 3.0]]
    record = RunRecord({"steps": {"loss": losses, "weights": [[0.5, 3.0]] * 4}})
    ratio, steps = improvement_ratio_trajectory(record, window=2)
    np.testing.assert_allclose(ratio, [0.25])
    np.testing.assert_array_equal(steps, [4])
    variance, steps = loss_variance_trajectory(record, window=2)
    # Window 1: task 0 mean 8, d 1 → 1/64; task 1 mean 2, d 1 → 1/4. Window 2: task 0 mean 4, d 0.5
    # → 0.25/16 = 1/64 again (halving a loss leaves its relative noise), task 1 again 1/4.
    np.testing.assert_allclose(variance, [(1 / 64 + 1 / 4) / 2] * 2)
    np.testing.assert_array_equal(steps, [2, 4])
    # A fixed weight scales a task's mean and spread alike: the relative variance ignores it.
    unweighted = RunRecord({"steps": {"loss": losses, "weights": [[1.0, 1.0]] * 4}})
    np.testing.assert_allclose(loss_variance_trajectory(unweighted, 2)[0], variance)


def test_appendix_b1_gradient_metrics_match_the_projected_magnitudes():
    # cos_final and pgm_std are read from the logged cosines to the update; the projected magnitude
    # u · g_i / |g_i| computed from the Gramians themselves must give the same spread.
    gen = torch.Generator().manual_seed(0)
    w = torch.tensor([0.4, 1.1, 1.5], dtype=torch.float64)
    grams = []
    for _ in range(5):
        g = torch.randn(3, 6, generator=gen, dtype=torch.float64) + 1.0
        grams.append(g @ g.T)
    grams = torch.stack(grams)
    cosines = metrics.cosine_to_update(grams, w)
    logged = {"step": list(range(5)), **{f"cos_update_{i}": cosines[:, i].tolist() for i in range(3)}}
    record = RunRecord({"metrics": logged})
    _, mean_cos = study_trajectory(record, "cos_final")
    np.testing.assert_allclose(mean_cos, cosines.mean(-1).numpy())
    _, spread = study_trajectory(record, "pgm_std")
    expected = metrics.relative(metrics.projected_magnitude(grams, w)).std(-1, correction=0)
    np.testing.assert_allclose(spread, expected.numpy())
    # By hand: cosines (0.2, 0.6) → relative (0.5, 1.5) → std 0.5.
    hand = RunRecord({"metrics": {"step": [0], "cos_update_0": [0.2], "cos_update_1": [0.6]}})
    assert study_trajectory(hand, "pgm_std")[1][0] == pytest.approx(0.5)
    assert study_trajectory(hand, "cos_final")[1][0] == pytest.approx(0.4)


@pytest.mark.parametrize(
    "low,high,expected",
    [(-0.9, -0.2, "higher is better"), (0.3, 0.8, "lower is better"), (-0.3, 0.5, "no significant relation")],
)
def test_verdict_without_a_claim_reports_the_relation(low, high, expected):
    assert verdict(None, low, high) == expected


def test_appendix_b1_metrics_in_the_sweep_table():
    table = sweep_table([fake_record([0.5, 1.5], 90, 80)], {"left": 100.0, "right": 100.0})
    assert {m.key for m in APPENDIX_B1_METRICS} <= set(table.columns)
    assert math.isnan(table.iloc[0]["cos_final"])  # this run logged no cosines to the update
    assert np.isfinite(table.iloc[0]["ir_std"]) and np.isfinite(table.iloc[0]["loss_cv2"])
    corr = correlation_table({"toy": table}, n_boot=50, study_metrics=APPENDIX_B1_METRICS)
    assert list(corr["metric"]) == [m.label for m in APPENDIX_B1_METRICS]
