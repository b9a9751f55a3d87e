"""The paper's figures beside ours, wherever a comparison means something.

Our benchmarks are not the paper's (MultiMNIST and procedurally rendered street and indoor scenes
with small models, against NuScenes, CityScapes and NYUv2 with UniTR, PSPNet and TaskPrompter), so a
raw per-task value of one never stands beside one of the other. What can be compared is what the
paper's claims are about, each quantity relative to its own benchmark:

- the **ordering** of a table's rows by Δm (lower is better) and their **ranks**, with Spearman's ρ
  between an ordering of ours and one of the paper's, and between the paper's own datasets, as a
  yardstick of how much an ordering moves from one benchmark to another (Tables 1-5);
- AutoScale's **gaps** in Δm to the searched weights and to unitary LS, and how many MTOs have a
  higher Δm (Tables 1 and 2);
- step times as **ratios** to unitary LS (Table 7);
- per claim of the verdict, the paper's figures in the form of our evidence (the ``*_figures``
  functions, named by each claim of :data:`autoscale.book.verdict.CLAIMS`).

The paper's values come from its transcribed tables (:mod:`autoscale.book.paper_reference`). Every
side-by-side table goes through :func:`side_by_side`, which refuses any quantity not in
:data:`COMPARABLE`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from autoscale.book.paper_reference import (
    paper_ablation,
    paper_main_tables,
    paper_step_ratios,
)
from autoscale.book.results import AblationResults, MainResults, method_label
from autoscale.experiments.plans import ABLATIONS, EXTRA_METHODS, GRADIENT_METHODS
from autoscale.methods.autoscale import DEFAULTS

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

# Quantities that are relative to each benchmark's own baselines, so that the paper's and ours can
# stand side by side: Δm and Δm_pos (against single-task), MR (a rank), ranks, ratios to unitary LS.
COMPARABLE = ("Δm", "Δm_pos", "MR", "rank", "×unitary")
# The rows of Tables 1 and 2 that are neither a baseline nor linear scalarization.
NOT_MTO = ("stl", "unitary", "searched", "autoscale")
Label = Callable[[Any], str]


def row_label(key: str) -> str:
    """A row of the paper's Tables 1-2 as printed beside ours: its one searched row is our grid or
    random search, whichever stands for it (:func:`_our_delta_m`), so it is named without either."""
    return "Searched LS weights" if key == "searched" else method_label(key)


def check_comparable(quantity: str) -> None:
    """Refuse a quantity whose values mean different things on different benchmarks (any raw
    per-task metric: an mIoU on CityScapes and an accuracy on MultiMNIST are not on one scale)."""
    if quantity not in COMPARABLE:
        raise ValueError(
            f"{quantity!r} is not comparable across benchmarks: raw per-task values of different benchmarks are "
            f"never put side by side; comparable: {', '.join(COMPARABLE)}"
        )


def ranks(values: pd.Series) -> pd.Series:
    """Rank 1 for the lowest value (best Δm, cheapest step); ties share their mean rank."""
    return values.rank(method="average")


def spearman(a: pd.Series, b: pd.Series) -> float:
    """Spearman's ρ between two orderings over their common rows; nan with fewer than three rows
    or where one side is constant."""
    common = a.dropna().index.intersection(b.dropna().index)
    if len(common) < 3:
        return float("nan")
    ra, rb = ranks(a[common]).to_numpy(), ranks(b[common]).to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def mean_rank(columns: Mapping[str, pd.Series]) -> pd.Series:
    """The paper's Table 5 MR: each row's rank of Δm on every benchmark, averaged over benchmarks
    (rows present on all of them). The printed MR of Table 5 follows from its Δm columns this way."""
    frame = pd.concat(list(columns.values()), axis=1, join="inner")
    return frame.rank(method="average").mean(axis=1)


def _common_rows(columns: Sequence[pd.Series]) -> list[Hashable]:
    keys: list[Hashable] = list(columns[0].dropna().index)
    for column in columns[1:]:
        present = set(column.dropna().index)
        keys = [k for k in keys if k in present]
    return keys


def side_by_side(
    paper: Mapping[str, pd.Series],
    ours: Mapping[str, pd.Series],
    quantity: str,
    label: Label = row_label,
    values: bool = True,
) -> pd.DataFrame:
    """The paper's columns and ours of one comparable ``quantity`` (:data:`COMPARABLE`), each with
    its ranks (1 = lowest), on the rows common to every column, in the paper's order. Columns are
    (``"paper: <dataset>"`` or ``"ours: <benchmark>"``, quantity or ``"rank"``); ``values=False``
    keeps the ranks only. Raises ``ValueError`` for any other quantity."""
    check_comparable(quantity)
    named = {f"paper: {k}": v for k, v in paper.items()} | {f"ours: {k}": v for k, v in ours.items()}
    if not named:
        return pd.DataFrame()
    keys = _common_rows(list(named.values()))
    columns: dict[tuple[str, str], pd.Series] = {}
    for source, column in named.items():
        column = column.loc[keys].astype(float)
        if values:
            columns[source, quantity] = column
        columns[source, "rank"] = ranks(column)
    table = pd.DataFrame(columns, index=keys)
    table.index = pd.Index([label(k) for k in keys], name="row")
    return table


def agreement(
    paper: Mapping[str, pd.Series], ours: Mapping[str, pd.Series], focus: Any, label: Label = row_label
) -> pd.DataFrame:
    """How alike two orderings are (lower value first): each of ours against each of the paper's,
    then the paper's datasets against each other (the yardstick: how much the paper's own ordering
    moves between benchmarks). Per pair, on their common rows: Spearman's ρ, whether the whole
    ordering and the best row are the same, each side's best row and the rank of ``focus``
    (AutoScale, or an ablation's default)."""
    named_paper = {f"paper: {k}": v for k, v in paper.items()}
    named_ours = {f"ours: {k}": v for k, v in ours.items()}
    pairs = [(o, p) for o in named_ours for p in named_paper] + list(combinations(named_paper, 2))
    named = named_paper | named_ours
    rows = []
    for first, second in pairs:
        keys = _common_rows([named[first], named[second]])
        a, b = named[first].loc[keys].astype(float), named[second].loc[keys].astype(float)
        ra, rb = ranks(a), ranks(b)
        rows.append(
            {
                "compared": first,
                "with": second,
                "rows": len(keys),
                "Spearman ρ": spearman(a, b),
                "same ordering": bool((ra == rb).all()),
                "same best": a.idxmin() == b.idxmin(),
                "best (compared)": label(a.idxmin()),
                "best (with)": label(b.idxmin()),
                f"rank of {label(focus)} (compared)": float(ra[focus]) if focus in ra else np.nan,
                f"rank of {label(focus)} (with)": float(rb[focus]) if focus in rb else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index(["compared", "with"]) if rows else pd.DataFrame()


def styled(frame: pd.DataFrame) -> Styler:
    """A comparison as the book shows it: values and ρ with two decimals, ranks as they are (a tie
    shows as 2.5), missing values as a dash."""
    is_rank = [
        (c[-1] if isinstance(c, tuple) else str(c)).startswith(("rank", "AutoScale rank")) for c in frame.columns
    ]
    style = frame.style.format(precision=2, na_rep="–")
    rank_columns = [c for c, r in zip(frame.columns, is_rank, strict=True) if r]
    return style.format("{:g}", subset=rank_columns, na_rep="–") if rank_columns else style


# -- Tables 1 and 2 ---------------------------------------------------------------------------------


def _paper_delta_m() -> dict[str, pd.Series]:
    """Δm of the multi-task rows of Tables 1-2 by dataset, keyed by method id."""
    return {d: t["delta_m"].drop(index="stl") for d, t in paper_main_tables().items()}


def _our_delta_m(main: Mapping[str, MainResults]) -> dict[str, pd.Series]:
    """Our Δm of the rows the paper's tables have (the extra methods are left out). The paper's
    searched weights are the best of 20 random trials: our random search stands for them where it
    was run, else the grid search."""
    out = {}
    for b, res in main.items():
        delta = res.table()["Δm"]
        if res.searched_row == "random":
            delta = delta.drop(index="searched").rename(index={"random": "searched"})
        out[b] = delta.drop(index=[k for k in ("stl", *EXTRA_METHODS) if k in delta.index])
    return out


def _gaps(delta: pd.Series) -> dict[str, Any]:
    """AutoScale's place in one main table's Δm column (multi-task rows, keyed by method id)."""
    mtos = delta.drop(index=[k for k in NOT_MTO if k in delta.index])
    ours = delta["autoscale"]
    return {
        "rows": len(delta),
        "AutoScale rank by Δm": float(ranks(delta)["autoscale"]),
        "MTOs with higher Δm": f"{int((mtos > ours).sum())} of {len(mtos)}",
        "Δm AutoScale − searched": float(ours - delta["searched"]),
        "Δm AutoScale − unitary": float(ours - delta["unitary"]),
        "best row by Δm": row_label(delta.idxmin()),
    }


def gap_table(paper: Mapping[str, pd.Series], ours: Mapping[str, pd.Series]) -> pd.DataFrame:
    """:func:`main_gaps` from Δm columns keyed by method id (the paper's datasets, then ours)."""
    rows = [{"source": "paper", "benchmark": d, **_gaps(s)} for d, s in paper.items()]
    rows += [{"source": "ours", "benchmark": b, **_gaps(s)} for b, s in ours.items()]
    return pd.DataFrame(rows).set_index(["source", "benchmark"])


def main_gaps(main: Mapping[str, MainResults]) -> pd.DataFrame:
    """Tables 1 and 2 reduced to what carries over between benchmarks, one row per benchmark (the
    paper's three, then ours): AutoScale's rank by Δm among the multi-task rows, how many of the
    MTOs have a higher Δm, its Δm gaps to the searched weights and to unitary LS, and the best row;
    for ours also both gaps paired over seeds with their 95% t intervals (the paper prints means only).
    Our searched weights are those of the 20 random trials where they were run (the paper's search),
    else the grid's."""
    table = gap_table(_paper_delta_m(), _our_delta_m(main))
    table["paired: AutoScale − searched"] = [
        main[b].paired("autoscale", main[b].searched_row).text() if source == "ours" else ""
        for source, b in table.index
    ]
    table["paired: AutoScale − unitary"] = [
        main[b].paired("autoscale", "unitary").text() if source == "ours" else "" for source, b in table.index
    ]
    return table


def main_ranks(main: Mapping[str, MainResults]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rank by Δm of every multi-task row of Tables 1 and 2 on each of the paper's datasets
    and each of our benchmarks, and the :func:`agreement` of those orderings (focus: AutoScale)."""
    paper, ours = _paper_delta_m(), _our_delta_m(main)
    return side_by_side(paper, ours, "Δm", values=False), agreement(paper, ours, "autoscale")


# -- Tables 3-5 -------------------------------------------------------------------------------------


def ablation_vs_paper(name: str, results: Mapping[str, AblationResults]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One ablation (``explore``: Table 3, ``cost``: Table 4, ``predictor``: Table 5): AutoScale's
    Δm and rank per setting on the paper's datasets and on our benchmarks, the default's row marked;
    for the predictor also the MR across datasets (:func:`mean_rank`, Table 5's last column) on
    each side. And the :func:`agreement` of the orderings (focus: the default)."""
    ablation = ABLATIONS[name]
    table3 = paper_ablation(name)
    paper = {d: table3[d] for d in table3.columns}
    ours = {b: res.table()["Δm"] for b, res in results.items()}

    def label(value: Any) -> str:
        return ablation.label(value) + (" (default)" if value == ablation.default else "")

    table = side_by_side(paper, ours, "Δm", label=label)
    if name == "predictor":
        keys = _common_rows([*paper.values(), *ours.values()])
        table["paper: MR across datasets", "MR"] = mean_rank(paper).loc[keys].to_numpy()
        if ours:
            table["ours: MR across benchmarks", "MR"] = mean_rank(ours).loc[keys].to_numpy()
    return table, agreement(paper, ours, ablation.default, label=ablation.label)


# -- Table 7 ----------------------------------------------------------------------------------------


def our_step_ratios(bench: Mapping[str, Any]) -> pd.DataFrame:
    """Step time relative to unitary LS from a step-time benchmark file (``python -m
    autoscale.bench``), rows as Table 7 (method ids), one column per benchmark. AutoScale is over a
    whole run at the default α, α × phase-1 step + (1 - α) × phase-2 step, as Table 7 times it
    over training."""
    alpha = DEFAULTS["alpha"]
    rows = paper_step_ratios().index
    columns = {}
    for b, result in bench["benchmarks"].items():
        steps = result["steps"]
        ratio = {m: steps[m]["ratio_to_unitary"] for m in rows if m in steps}
        ratio["autoscale"] = (
            alpha * steps["autoscale (phase 1)"]["ratio_to_unitary"]
            + (1 - alpha) * steps["autoscale (phase 2)"]["ratio_to_unitary"]
        )
        columns[b] = pd.Series(ratio)
    return pd.DataFrame(columns).reindex(rows)


def step_time_vs_paper(benches: Sequence[Mapping[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 7 beside ours: step time relative to unitary LS per method on the paper's datasets
    (GPUs) and on our benchmarks in each benchmark file (named by its device), with ranks (1 =
    cheapest), and the :func:`agreement` of those orderings (focus: AutoScale)."""
    table7 = paper_step_ratios()
    paper = {d: table7[d] for d in table7.columns}
    ours = {
        f"{b} ({bench['device_kind']})": column for bench in benches for b, column in our_step_ratios(bench).items()
    }
    return side_by_side(paper, ours, "×unitary"), agreement(paper, ours, "autoscale")


def step_ranges(ratios: pd.DataFrame) -> tuple[tuple[float, float], tuple[float, float]]:
    """The range of AutoScale's ratio to unitary and that of the gradient-manipulating MTOs
    (:data:`autoscale.experiments.plans.GRADIENT_METHODS`) over the columns of ``ratios``."""
    ours = ratios.loc["autoscale"]
    mtos = ratios.loc[[m for m in GRADIENT_METHODS if m in ratios.index]].to_numpy()
    return (float(ours.min()), float(ours.max())), (float(np.nanmin(mtos)), float(np.nanmax(mtos)))


def paper_step_ranges() -> tuple[tuple[float, float], tuple[float, float]]:
    """:func:`step_ranges` of Table 7: AutoScale's and the gradient-manipulating MTOs' ratios to
    unitary LS from the lowest to the highest over the paper's three datasets."""
    return step_ranges(paper_step_ratios())


# -- the paper's figures per claim of the verdict ---------------------------------------------------


def _ablation_phrase(delta: pd.Series, default: Any, label: Label) -> str:
    best = delta.idxmin()
    text = f"best {label(best)} ({delta[best]:.2f})"
    if best != default:
        text += f", {label(default)} {delta[default] - delta[best]:+.2f} Δm behind"
    return text


def beats_mtos_figures() -> str:
    """Per dataset of Tables 1-2, how many MTOs have a higher Δm than AutoScale."""
    return "; ".join(
        f"{d}: {_gaps(s)['MTOs with higher Δm'].replace(' of ', '/')} MTOs have higher Δm"
        for d, s in _paper_delta_m().items()
    )


def near_searched_figures() -> str:
    """Per dataset of Tables 1-2, AutoScale's Δm gap to the searched weights and its rank by Δm."""
    gaps = gap_table(_paper_delta_m(), {})
    return "; ".join(
        f"{d}: Δm gap to searched {row['Δm AutoScale − searched']:+.2f}, AutoScale rank by Δm "
        f"{row['AutoScale rank by Δm']:g} of {row['rows']}"
        for (_, d), row in gaps.iterrows()
    )


def step_time_figures() -> str:
    """Per dataset of Table 7, AutoScale's step time and the MTOs' range, relative to unitary LS."""
    table7 = paper_step_ratios()
    parts = []
    for d in table7.columns:
        (ours, _), (lo, hi) = step_ranges(table7[[d]])
        parts.append(f"{d}: AutoScale {ours:.2f}x, MTOs {lo:.2f}-{hi:.2f}x")
    return "Table 7 (GPU): " + "; ".join(parts)


def ablation_figures(name: str) -> str:
    """Per dataset of an ablation table (3-5), the best setting and the default's gap to it (and the
    MR across datasets for the predictors)."""
    ablation = ABLATIONS[name]
    table = paper_ablation(name)
    parts = [f"{d}: {_ablation_phrase(table[d], ablation.default, ablation.label)}" for d in table.columns]
    if len(table.columns) == 1:
        d = table.columns[0]
        parts.append("Δm " + ", ".join(f"{ablation.label(k)} {v:.2f}" for k, v in table[d].sort_values().items()))
    if name == "predictor":
        mr = mean_rank({d: table[d] for d in table.columns}).sort_values()
        parts.append("MR across datasets: " + ", ".join(f"{ablation.label(k)} {v:.2f}" for k, v in mr.items()))
    return "; ".join(parts)


def column_groups(table: pd.DataFrame) -> list[pd.DataFrame]:
    """:func:`side_by_side`'s columns split by source, so that each table fits the page: the paper's
    columns, then ours per device (the name in parentheses, ``"ours: multimnist (cpu-2thread)"``),
    each part keeping the table's rows."""

    def source(name: str) -> str:
        return "paper" if name.startswith("paper:") else name.rsplit("(", 1)[-1]

    order = list(dict.fromkeys(source(name) for name in table.columns.get_level_values(0)))
    return [table.loc[:, [c for c in table.columns if source(c[0]) == key]] for key in order]
