"""Best / second / third marks of the result tables (rank_marks, display_table, MarkedTable) on
hand-made tables: both directions, ties, NaN, the single-task row left out, the numbers unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoscale.book.results import MARK_CSS, MarkedTable, display_table, rank_marks

NAN = float("nan")


def test_rank_marks_directions_ties_nan_and_excluded_rows() -> None:
    values = pd.DataFrame(
        {
            "acc": [99.0, 80.0, 90.0, 90.0, 70.0, NAN],  # higher is better; tie for second
            "err": [0.0, 3.0, 1.0, 1.0, 1.0, 2.0],  # lower is better; three-way tie for best
            "Δm": [0.0, NAN, -1.0, 2.0, 0.5, -3.0],
        },
        index=["stl", "p", "q", "r", "s", "t"],
    )
    marks = rank_marks(values, {"acc": True, "err": False, "Δm": False}, exclude=["stl"])
    # stl would be best everywhere but is not a contender; NaN is never marked.
    assert marks.loc["stl"].tolist() == [0, 0, 0]
    assert marks["acc"].tolist() == [0, 3, 1, 1, 0, 0]  # 90, 90 share first; 80 is third (two above it)
    assert marks["err"].tolist() == [0, 0, 1, 1, 1, 0]  # three tied best: no second or third
    assert marks["Δm"].tolist() == [0, 0, 2, 0, 3, 1]  # -3 < -1 < 0.5; nan unmarked
    assert marks.dtypes.map(lambda d: d.kind == "i").all()


def test_rank_marks_on_a_column_of_nan_or_fewer_rows_than_places() -> None:
    values = pd.DataFrame({"x": [NAN, NAN], "y": [2.0, 1.0]}, index=["a", "b"])
    marks = rank_marks(values, {"x": True, "y": True})
    assert marks["x"].tolist() == [0, 0] and marks["y"].tolist() == [1, 2]


def hand_table() -> pd.DataFrame:
    """main_table's form: single-task row, three methods, two seeds, task a up and b down."""
    table = pd.DataFrame(
        {
            "seeds": [2, 2, 2, 2],
            "MR": [NAN, 1.5, 1.5, 3.0],
            "a": [50.0, 52.0, 51.0, 49.0],
            "a std": [0.5, 1.0, 1.0, 1.0],
            "b": [2.0, 1.004, 0.996, 3.0],  # 1.00 and 1.00 as printed: a tie
            "b std": [0.0] * 4,
            "Δm": [0.0, -1.0, -2.0, NAN],
            "Δm std": [NAN, 0.1, 0.1, 0.1],
            "Δm_pos": [0.0, 1.0, 1.0, 2.0],
            "step time ×LS": [NAN, 1.0, 1.8, 2.5],
        },
        index=pd.Index(["stl", "unitary", "imtlg", "mgda"], name="method"),
    )
    table.attrs["higher_is_better"] = {"a": True, "b": False}
    return table


def test_display_table_marks_the_values_as_printed_and_keeps_the_numbers() -> None:
    table = hand_table()
    view = display_table(table, ["a", "b"])
    assert isinstance(view, MarkedTable)
    assert view.loc["Unitary LS", "b"] == "1.00 ± 0.00" and view.loc["IMTL-G", "b"] == "1.00 ± 0.00"
    assert view.loc["MGDA", "Δm"] == "nan ± 0.10" and view.loc["Single-task", "MR"] == "–"
    marks = view.marks
    assert marks is not None
    assert list(marks.index) == list(view.index)
    assert marks["a"].tolist() == [0, 1, 2, 3]
    assert marks["b"].tolist() == [0, 1, 1, 3]  # tied as printed, though 0.996 < 1.004
    assert marks["Δm"].tolist() == [0, 2, 1, 0]
    assert marks["MR"].tolist() == [0, 1, 1, 3] and marks["Δm_pos"].tolist() == [0, 1, 1, 3]
    assert "step time ×LS" not in marks and "seeds" not in marks


def test_marks_render_in_html_and_survive_the_ablation_view() -> None:
    view = display_table(hand_table(), ["a", "b"])
    html = view._repr_html_()
    assert MARK_CSS[1] in html and MARK_CSS[2] in html and MARK_CSS[3] in html
    assert "<caption>" in html and "1.00 ± 0.00" in html
    # AblationResults.display: a column added, one dropped, then the notebook's .style.format.
    view["time ×default"] = np.array([1.0, 1.0, 1.25, 2.0])
    dropped = view.drop(columns=["step time ×LS"])
    assert isinstance(dropped, MarkedTable) and dropped.marks is view.marks
    styled = dropped.style.format({"time ×default": "{:.2f}"}).to_html()
    assert "1.25" in styled and MARK_CSS[1] in styled and "step time" not in styled


def test_display_table_needs_the_directions_of_the_tasks() -> None:
    table = hand_table()
    table.attrs.clear()
    with pytest.raises(KeyError):
        display_table(table, ["a", "b"])


def test_a_table_pandas_builds_from_several_has_no_marks() -> None:
    view = display_table(hand_table(), ["a", "b"])
    joined = pd.concat([view, view])
    assert isinstance(joined, MarkedTable) and joined.marks is None
    assert MARK_CSS[1] not in joined._repr_html_() and "<caption>" not in joined._repr_html_()
