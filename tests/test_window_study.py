"""The window-count study (autoscale.book.window_study): predictions from window prefixes are the
method's own, stability and switch-off counts on hand-built predictions, the per-τ table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import TASKS, record

from autoscale.book.window_study import prefix_predictions, stable_from, switch_off_share, window_count_table
from autoscale.methods import build_method


def autoscale_record(method, seed: int = 0, test=None):
    """A run record holding ``method``'s AutoScale trace after its run."""
    r = record("autoscale", seed, test=test or {"a": 50.0, "b": 2.0}, switch=method.switch_step)
    r.data["method"] = method.record()
    r.data["total_steps"] = method.total_steps
    return r


def explored(alpha: float, window: int, total_steps: int = 40, drift: float = 0.05):
    """AutoScale on two tasks whose gradient norms drift apart step by step (window weights with a trend)."""
    method = build_method("autoscale", 2, total_steps=total_steps, alpha=alpha, window=window)
    for t in range(total_steps):
        norms = torch.tensor([1.0 + drift * t, 1.0], dtype=torch.float64)
        method.weights(torch.ones(2, dtype=torch.float64), torch.diag(norms**2))
    return method


@pytest.mark.parametrize("predictor", ["linear", "avg", "exp"])
def test_prediction_from_all_windows_is_the_methods_own(predictor):
    method = build_method("autoscale", 2, total_steps=40, alpha=0.5, window=4, predictor=predictor)
    for t in range(40):
        method.weights(torch.ones(2, dtype=torch.float64), torch.diag(torch.tensor([1.0 + 0.05 * t, 1.0]) ** 2))
    r = autoscale_record(method)
    n = len(r.autoscale.window_weights)
    assert n == 5  # 20 exploration steps in windows of 4
    row = prefix_predictions(r, [n]).query("predictor == @predictor")
    assert np.allclose(row[["a", "b"]].to_numpy()[0], r.autoscale.final_weights, atol=1e-12)


def test_prefixes_of_an_alpha_one_run_are_shorter_explorations():
    # α = 1 with windows of 4 over 40 steps: 10 windows. Its first 5 windows are exactly the windows
    # of the α = 0.5 run, and (γT being the same) so are the predictions from them.
    long, short = explored(1.0, 4), explored(0.5, 4)
    assert long.final_weights is None and len(long.window_weights) == 10
    prefix = prefix_predictions(autoscale_record(long), [5]).query("predictor == 'linear'")
    assert np.allclose(prefix[["a", "b"]].to_numpy()[0], short.final_weights.numpy())
    with pytest.raises(ValueError, match="has 10 windows"):
        prefix_predictions(autoscale_record(long), [11])
    with pytest.raises(ValueError, match="not an AutoScale run"):
        prefix_predictions(record("unitary"))


def test_stability_and_switch_off_on_hand_built_predictions():
    # Seed 0 settles at n = 3 (later values within 0.1 of the last), seed 1 only at its last count:
    # at n = 3 it is close to the end but leaves again at n = 4.
    a = {0: [1.5, 0.6, 0.95, 1.0, 1.02], 1: [1.0, 1.5, 1.05, 1.3, 1.0]}
    rows = [
        {"windows": n + 1, "predictor": "linear", "seed": s, "a": v, "b": 2 - v, "off": int(v in (0, 2))}
        for s, values in a.items()
        for n, v in enumerate(values)
    ]
    table = stable_from(pd.DataFrame(rows), ["a", "b"]).set_index("seed")
    assert table.loc[0, "stable from"] == 3 and table.loc[1, "stable from"] == 5
    rows[0]["off"] = 1  # seed 0 switches a task off at n = 1
    share = switch_off_share(pd.DataFrame(rows))
    assert share.loc[1, "L.E."] == 0.5 and share.loc[2, "L.E."] == 0.0


def test_window_count_table_pairs_each_window_with_the_default():
    stl = [record("unitary", s, test={"a": 50.0}, tasks=TASKS) for s in range(3)]
    stl += [record("unitary", s, test={"b": 2.0}, tasks=TASKS) for s in range(3)]
    # Δm = 50 - a. Default τ = 4 (5 windows): Δm (0, 0, 0); τ = 2 (10 windows): Δm (-1, -1.1, -0.9).
    by_tau = {
        4: [autoscale_record(explored(0.5, 4), s, {"a": 50.0, "b": 2.0}) for s in range(3)],
        2: [autoscale_record(explored(0.5, 2), s, {"a": 51.0 + e, "b": 2.0}) for s, e in enumerate((0, 0.1, -0.1))],
    }
    table = window_count_table(by_tau, stl, default_tau=4)
    assert list(table.index) == [4, 2] and list(table["windows"]) == [5, 10]
    assert table.loc[4, "Δm − default τ, paired"] == ""
    assert table.loc[2, "Δm − default τ, paired"] == "-1.00 [-1.25, -0.75] (3 seeds)"
    assert table.loc[2, "Δm"] == pytest.approx(-1.0)
    assert set(table.filter(like="off:").columns) == {"off: Avg W", "off: Last W", "off: L.E.", "off: E.E."}
