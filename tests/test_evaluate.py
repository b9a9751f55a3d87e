"""Δm, Δm_pos and MR on hand-computed examples (the paper's Sec. 5 conventions)."""

import pytest

from autoscale.evaluate import delta_m, delta_m_pos, mean_rank

HIGHER = {"acc": True, "err": False}
BASE = {"acc": 80.0, "err": 2.0}


def test_both_worse():
    # acc 80 → 76: δ = -5%, signed +5; err 2.0 → 2.2: δ = +10%, signed +10.
    res = {"acc": 76.0, "err": 2.2}
    assert delta_m(res, BASE, HIGHER) == pytest.approx(7.5)
    assert delta_m_pos(res, BASE, HIGHER) == pytest.approx(15.0)


def test_both_better():
    res = {"acc": 88.0, "err": 1.8}
    assert delta_m(res, BASE, HIGHER) == pytest.approx(-10.0)
    assert delta_m_pos(res, BASE, HIGHER) == 0.0


def test_mixed():
    res = {"acc": 88.0, "err": 2.2}
    assert delta_m(res, BASE, HIGHER) == pytest.approx(0.0)
    assert delta_m_pos(res, BASE, HIGHER) == pytest.approx(10.0)


def test_missing_task_and_zero_baseline():
    with pytest.raises(ValueError, match="missing"):
        delta_m({"acc": 1.0}, BASE, HIGHER)
    with pytest.raises(ValueError, match="is 0"):
        delta_m({"acc": 1.0}, {"acc": 0.0}, {"acc": True})


def test_mean_rank_with_ties():
    table = {
        "A": {"acc": 90.0, "err": 1.0},  # ranks 1, 1
        "B": {"acc": 80.0, "err": 2.0},  # ranks 2.5, 2.5 (tied with C)
        "C": {"acc": 80.0, "err": 2.0},
    }
    assert mean_rank(table, HIGHER) == {"A": 1.0, "B": 2.5, "C": 2.5}
    assert mean_rank({"A": {"acc": 1.0, "err": 9.0}, "B": {"acc": 2.0, "err": 1.0}}, HIGHER) == {"A": 2.0, "B": 1.0}
