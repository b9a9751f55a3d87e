"""The book's answer in one screen: per benchmark, AutoScale against the three rows a reader compares
it with first (the searched weights, unitary LS and the best of the paper's MTOs), paired over seeds,
as one figure, and the findings in a few sentences computed from the verdict table.

The verdict chapter draws them under its compact table; ``book/prepare_notebooks.py`` copies those
outputs (cells tagged ``answer``) to the top of the introduction, so the first screen of the book
states what was found.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from autoscale.book.paper_comparison import row_label
from autoscale.book.results import MainResults
from autoscale.experiments.plans import EXTRA_METHODS

#: The cell tag that marks the verdict chapter's outputs copied into the introduction.
ANSWER_TAG = "answer"


def best_mto(res: MainResults) -> str:
    """The paper's MTO (not unitary, AutoScale or a method the paper lacks) with the lowest mean test Δm."""
    table = res.table()
    mtos = [m for m in res.methods if m not in ("unitary", "autoscale", *EXTRA_METHODS)]
    if not mtos:
        raise ValueError("no MTO rows in these main results: train the main table's methods first")
    return min(mtos, key=lambda m: table.loc[m, "Δm"])


def answer_differences(main: Mapping[str, MainResults]) -> pd.DataFrame:
    """Per benchmark: test Δm of AutoScale minus the searched weights', unitary LS's and the best
    MTO's, paired over seeds (mean, 95% interval, seeds; negative: AutoScale is better)."""
    rows = []
    for b, res in main.items():
        for role, row in (
            ("searched weights", res.searched_row),
            ("unitary LS", "unitary"),
            ("best MTO", best_mto(res)),
        ):
            d = res.paired("autoscale", row)
            rows.append(
                {
                    "benchmark": b,
                    "against": role,
                    "row": row_label(row),
                    "AutoScale − row (Δm)": d.mean,
                    "low": d.low,
                    "high": d.high,
                    "seeds": d.n,
                }
            )
    return pd.DataFrame(rows)


def plot_answer(frame: pd.DataFrame) -> Figure:
    """One panel: each benchmark's three paired differences as points with their 95% intervals
    (no interval with one seed), a line at 0; left of it AutoScale is better."""
    benchmarks = list(dict.fromkeys(frame["benchmark"]))
    roles = list(dict.fromkeys(frame["against"]))
    fig, ax = plt.subplots(figsize=(7.2, 0.55 * len(frame) + 1.2))
    labels, y = [], 0
    for b in benchmarks:
        for i, role in enumerate(roles):
            row = frame[(frame["benchmark"] == b) & (frame["against"] == role)].iloc[0]
            low, high = row["low"], row["high"]
            mean = row["AutoScale − row (Δm)"]
            errors = [[mean - low], [high - mean]] if pd.notna(low) and pd.notna(high) else None
            ax.errorbar(mean, -y, xerr=errors, fmt="os^"[i % 3], color=f"C{i}", capsize=4, ms=7, lw=1.6)
            labels.append(f"{b}: {row['row']}")
            y += 1
        y += 0.5
    positions = [-p for p in _positions(len(benchmarks), len(roles))]
    ax.set_yticks(positions, labels)
    ax.axvline(0, color="0.4", lw=1, ls="--")
    ax.set_xlabel("test Δm of AutoScale minus the row's, paired over seeds (95% interval)\n← AutoScale better")
    ax.grid(axis="x", color="0.85", lw=0.6)
    fig.tight_layout()
    return fig


def _positions(n_benchmarks: int, n_roles: int) -> list[float]:
    return [b * (n_roles + 0.5) + i for b in range(n_benchmarks) for i in range(n_roles)]


def findings(table: pd.DataFrame, frame: pd.DataFrame) -> str:
    """Two or three sentences: the verdict counts, then per benchmark where AutoScale stands against
    the searched weights (the paper's headline comparison), each resolved or not by its interval."""
    counts = table["verdict"].value_counts()
    verdicts = ", ".join(f"{n} {v}" for v, n in counts.items())
    parts = []
    for _, row in frame[frame["against"] == "searched weights"].iterrows():
        mean, low, high = row["AutoScale − row (Δm)"], row["low"], row["high"]
        if pd.isna(low) or pd.isna(high):
            judged = "one seed, no interval"
        elif high < 0:
            judged = "better, resolved"
        elif low > 0:
            judged = "worse, resolved"
        else:
            judged = f"not resolved, interval [{low:+.2f}, {high:+.2f}]"
        parts.append(f"{row['benchmark']} {mean:+.2f} ({judged})")
    return (
        f"Of the {len(table)} claims of the verdict table: {verdicts}. "
        f"AutoScale's test Δm minus the searched weights' (lower is better): {'; '.join(parts)}. "
        "The verdict chapter gives each claim's rule, the paper's numbers and the smallest difference "
        "our seeds could resolve."
    )
