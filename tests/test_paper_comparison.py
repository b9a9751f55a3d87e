"""The paper's figures beside ours: orderings, ranks and their agreement on hand-made columns whose
answers are known, the guard against raw per-task values, the paper's Table 3 and Table 7 as read
from the transcribed CSVs, and the verdict's column of the paper's numbers."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from helpers import record

from autoscale.book.paper_comparison import (
    COMPARABLE,
    ablation_vs_paper,
    agreement,
    check_comparable,
    column_groups,
    gap_table,
    mean_rank,
    our_step_ratios,
    paper_step_ranges,
    ranks,
    side_by_side,
    spearman,
    step_time_vs_paper,
)
from autoscale.book.paper_reference import paper_ablation, paper_main_tables, paper_table
from autoscale.book.results import AblationResults
from autoscale.book.verdict import (
    CLAIMS_BY_ID,
    NOT,
    PARTLY,
    REPLICATED,
    Evidence,
    compact_verdict,
    paper_source,
    step_time,
    verdict_table,
)
from autoscale.experiments.plans import ABLATIONS


def test_ranks_and_spearman_on_known_orderings() -> None:
    a = pd.Series({"p": 0.1, "q": 0.2, "r": 0.3, "s": 0.4, "t": 0.5})
    assert ranks(a).tolist() == [1, 2, 3, 4, 5]
    assert ranks(pd.Series({"x": 1.0, "y": 1.0, "z": 0.0})).tolist() == [2.5, 2.5, 1.0]  # ties share
    assert spearman(a, a * 10 - 3) == pytest.approx(1.0)  # only the ordering counts
    assert spearman(a, -a) == pytest.approx(-1.0)
    # Ranks 1-5 against 1, 2, 5, 3, 4: Σd² = 0 + 0 + 4 + 1 + 1 = 6, ρ = 1 - 6·6 / (5·24) = 0.7.
    b = pd.Series({"p": 1.0, "q": 2.0, "r": 5.0, "s": 3.0, "t": 4.0})
    assert spearman(a, b) == pytest.approx(0.7)
    # Only the common rows count; fewer than three rows or a constant side: no ρ.
    assert spearman(a, b.drop(index=["r"])) == pytest.approx(1.0)
    assert math.isnan(spearman(a[["p", "q"]], b[["p", "q"]]))
    assert math.isnan(spearman(a, pd.Series(1.0, index=a.index)))


def test_mean_rank_is_the_mean_of_the_delta_m_ranks() -> None:
    columns = {
        "one": pd.Series({"x": 0.1, "y": 0.2, "z": 0.3}),
        "two": pd.Series({"x": 0.9, "y": 0.2, "z": 0.5, "extra": 0.0}),  # rows missing elsewhere drop out
    }
    assert mean_rank(columns).to_dict() == {"x": 2.0, "y": 1.5, "z": 2.5}


def test_table5_printed_mr_follows_from_its_delta_m_columns() -> None:
    table = paper_table("table5_predictor")
    recomputed = mean_rank({d: paper_ablation("predictor")[d] for d in ("NuScenes", "CityScapes", "NYUv2")})
    printed = table["MR_across_datasets"].to_numpy()  # printed with one decimal
    assert recomputed.to_numpy() == pytest.approx(printed, abs=0.05)


def test_the_paper_table3_is_read_from_the_csv() -> None:
    table3 = paper_ablation("explore")["CityScapes"]
    assert table3.to_dict() == {"unitary": 2.63, "pcgrad": 2.53, "alignedmtl": 0.63, "imtlg": 0.10, "famo": 0.00}
    assert CLAIMS_BY_ID["explore"].paper_numbers() == (
        "CityScapes: best FAMO (0.00), IMTL-G +0.10 Δm behind; "
        "Δm FAMO 0.00, IMTL-G 0.10, Aligned-MTL 0.63, PCGrad 2.53, Unitary 2.63"
    )


@pytest.mark.parametrize("quantity", ["sem_mIoU", "acc", "depth_RMSE", "step time (ms)", "s_per_iter"])
def test_raw_per_task_values_are_never_put_side_by_side(quantity: str) -> None:
    column = pd.Series({"x": 1.0, "y": 2.0, "z": 3.0})
    with pytest.raises(ValueError, match="never put side by side"):
        check_comparable(quantity)
    with pytest.raises(ValueError, match="not comparable"):
        side_by_side({"CityScapes": column}, {"multimnist": column}, quantity)


def test_side_by_side_ranks_each_column_on_the_common_rows_in_the_paper_order() -> None:
    paper = {"P": pd.Series({"b": 0.5, "a": 0.1, "c": 0.9, "only_paper": -5.0})}
    ours = {"O": pd.Series({"a": 3.0, "b": 1.0, "c": 2.0})}
    table = side_by_side(paper, ours, "Δm", label=str.upper)
    assert list(table.index) == ["B", "A", "C"]
    assert table["paper: P", "rank"].tolist() == [2, 1, 3]  # "only_paper" is not ranked with the others
    assert table["ours: O", "rank"].tolist() == [1, 3, 2]
    assert table["ours: O", "Δm"].tolist() == [1.0, 3.0, 2.0]
    assert list(side_by_side(paper, ours, "Δm", values=False).columns.get_level_values(1)) == ["rank", "rank"]
    assert set(COMPARABLE) >= {"Δm", "rank", "×unitary"}


def test_agreement_pairs_ours_with_the_paper_and_the_paper_with_itself() -> None:
    paper = {"P1": pd.Series({"x": 0.1, "y": 0.2, "z": 0.3}), "P2": pd.Series({"x": 0.3, "y": 0.2, "z": 0.1})}
    ours = {"O": pd.Series({"x": -1.0, "y": 0.0, "z": 5.0})}
    table = agreement(paper, ours, focus="y", label=str)
    assert list(table.index) == [("ours: O", "paper: P1"), ("ours: O", "paper: P2"), ("paper: P1", "paper: P2")]
    same = table.loc[("ours: O", "paper: P1")]
    assert same["Spearman ρ"] == pytest.approx(1.0) and same["same ordering"] and same["same best"]
    reverse = table.loc[("ours: O", "paper: P2")]
    assert reverse["Spearman ρ"] == pytest.approx(-1.0) and not reverse["same ordering"]
    assert (reverse["best (compared)"], reverse["best (with)"]) == ("x", "z")
    assert reverse["rank of y (compared)"] == 2 and reverse["rank of y (with)"] == 2


def test_gap_table_places_autoscale_among_the_rows() -> None:
    delta = pd.Series(
        {"uw": 3.0, "famo": -1.0, "mgda": 5.0, "unitary": 2.0, "searched": -2.0, "autoscale": 0.5}, name="Δm"
    )
    row = gap_table({}, {"bench": delta}).loc[("ours", "bench")]
    assert row["AutoScale rank by Δm"] == 3 and row["rows"] == 6
    assert row["MTOs with higher Δm"] == "2 of 3"  # UW and MGDA, not FAMO
    assert row["Δm AutoScale − searched"] == pytest.approx(2.5)
    assert row["Δm AutoScale − unitary"] == pytest.approx(-1.5)
    assert row["best row by Δm"] == "Searched LS weights"


def test_the_paper_main_tables_in_the_verdict_form() -> None:
    # Recomputed by hand from the CSVs: AutoScale's Δm -0.10 (NuScenes) is below every MTO; on
    # CityScapes (0.10) and NYUv2 (0.45) FAMO alone is below it (-0.92, 0.25).
    assert CLAIMS_BY_ID["beats_mtos"].paper_numbers() == (
        "NuScenes: 8/8 MTOs have higher Δm; CityScapes: 7/8 MTOs have higher Δm; NYUv2: 7/8 MTOs have higher Δm"
    )
    gaps = gap_table({"CityScapes": paper_main_tables()["CityScapes"]["delta_m"].drop(index="stl")}, {})
    assert gaps.loc[("paper", "CityScapes"), "Δm AutoScale − searched"] == pytest.approx(0.10 + 1.42)
    near = CLAIMS_BY_ID["near_searched"].paper_numbers()
    assert "NYUv2: Δm gap to searched +0.52, AutoScale rank by Δm 3 of 11" in near
    assert CLAIMS_BY_ID["alpha"].paper_numbers is None and CLAIMS_BY_ID["signature"].paper_numbers is None


def bench(ratios: dict[str, float]) -> dict[str, Any]:
    """A step-time benchmark file of one benchmark with the given ratios to unitary."""
    steps = {m: {"ratio_to_unitary": r} for m, r in ratios.items()}
    return {"device": "test", "device_kind": "test-device", "benchmarks": {"bench": {"steps": steps}}}


def test_table7_ranges_and_our_ratios() -> None:
    # AutoScale 1.31 (NuScenes) to 1.45 (NYUv2); the gradient MTOs from PCGrad on CityScapes (2.13)
    # to Aligned-MTL on NYUv2 (13.91).
    assert paper_step_ranges() == ((1.31, 1.45), (2.13, 13.91))
    ratios = {"unitary": 1.0, "uw": 1.0, "gradnorm": 2.2, "mgda": 2.3, "pcgrad": 2.4, "imtlg": 2.5}
    ratios |= {"alignedmtl": 2.6, "rlw": 1.0, "famo": 1.1, "autoscale (phase 1)": 2.5, "autoscale (phase 2)": 1.1}
    ours = our_step_ratios(bench(ratios))["bench"]
    assert ours["autoscale"] == pytest.approx(0.2 * 2.5 + 0.8 * 1.1)  # over a run at α = 0.2
    assert len(ours) == 10 and ours["pcgrad"] == 2.4
    table, agree = step_time_vs_paper([bench(ratios)])
    assert ("ours: bench (test-device)", "×unitary") in table.columns
    assert ("ours: bench (test-device)", "paper: NYUv2") in agree.index
    parts = column_groups(table)  # the paper's columns, then ours per device
    assert [{c[0] for c in part.columns} for part in parts] == [
        {"paper: NuScenes", "paper: CityScapes", "paper: NYUv2"},
        {"ours: bench (test-device)"},
    ]
    assert all(part.index.equals(table.index) for part in parts)
    # In the paper's ranges: replicated; MTOs cheaper than 2.13x: only the ordering holds; AutoScale
    # dearer than an MTO: not replicated.
    assert step_time(bench(ratios), {})[1] == REPLICATED
    assert step_time(bench(ratios | {"gradnorm": 1.9}), {})[1] == PARTLY
    assert step_time(bench(ratios | {"autoscale (phase 2)": 2.6}), {})[1] == NOT


def test_ablation_beside_the_paper_keeps_settings_and_marks_the_default() -> None:
    stl = [record("unitary", test={"a": 50.0}), record("unitary", test={"b": 2.0})]
    values = ABLATIONS["explore"].values  # unitary, pcgrad, alignedmtl, imtlg (default), famo
    # Δm = -(a - 50)/50 · 100 / 2: the same ordering as the paper's Table 3 (FAMO, IMTL-G, Aligned-MTL, ...).
    a = {"unitary": 49.0, "pcgrad": 49.5, "alignedmtl": 50.5, "imtlg": 51.0, "famo": 51.5}
    rows = {v: [record("autoscale", test={"a": a[v], "b": 2.0})] for v in values}
    ours = {"bench": AblationResults("explore", "bench", rows, stl)}
    table, agree = ablation_vs_paper("explore", ours)
    assert list(table.index) == ["Unitary", "PCGrad", "Aligned-MTL", "IMTL-G (default)", "FAMO"]
    assert table["ours: bench", "rank"].tolist() == table["paper: CityScapes", "rank"].tolist()
    pair = agree.loc[("ours: bench", "paper: CityScapes")]
    assert pair["same ordering"] and pair["Spearman ρ"] == pytest.approx(1.0) and pair["rank of IMTL-G (with)"] == 2
    # The predictor's comparison ends with the MR across datasets of Table 5, L.E. lowest.
    rows = {
        v: [record("autoscale", test={"a": 50.0 + i, "b": 2.0})] for i, v in enumerate(ABLATIONS["predictor"].values)
    }
    table, _ = ablation_vs_paper("predictor", {"bench": AblationResults("predictor", "bench", rows, stl)})
    paper_mr = table["paper: MR across datasets", "MR"]
    assert paper_mr.idxmin() == "L.E. (default)" and paper_mr.min() == pytest.approx(7 / 3)
    assert table["ours: MR across benchmarks", "MR"].tolist() == [5, 4, 3, 2, 1]


def test_claims_file_cites_the_tables_and_the_verdict_shows_the_paper_numbers() -> None:
    source = paper_source()
    assert "reference/paper" in source["tables_note"] and source["url"].startswith("https://arxiv.org/abs/2508.13979")
    assert all(c.where for c in CLAIMS_BY_ID.values())
    by_id = CLAIMS_BY_ID
    cost = by_id["cost"].paper_column()
    assert cost.startswith("NuScenes: best Equal |g| (-0.10); CityScapes: best Equal |l| (0.08)")
    assert "MR across datasets: L.E. 2.33" in by_id["predictor"].paper_column()
    assert by_id["alpha"].paper_column() == by_id["alpha"].paper_note
    assert "Table 7 (GPU): NuScenes: AutoScale 1.31x, MTOs 2.50-2.68x" in by_id["step_time"].paper_column()
    assert by_id["keeps_tasks"].paper_column() == "Not a claim of the paper."


def test_verdict_table_has_the_paper_column_next_to_our_evidence() -> None:
    table = verdict_table(Evidence({}, correlations=pd.DataFrame(columns=["metric", "paper's claim", "verdict"])))
    assert list(table.columns) == [
        "in short",
        "where",
        "claim",
        "paper's numbers",
        "our evidence",
        "evidence read",
        "verdict",
        "why",
        "smallest resolvable difference",
        "what would change this verdict",
    ]
    assert list(compact_verdict(table).columns) == ["claim", "paper", "verdict", "smallest resolvable difference"]
    explore = table[table["claim"].str.contains("Table 3")].iloc[0]
    assert explore["paper's numbers"].startswith("CityScapes: best FAMO (0.00), IMTL-G +0.10 Δm behind")
    assert explore["our evidence"] == "not run at this profile"
