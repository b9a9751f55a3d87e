"""The paper's own numbers as data: its Tables 1-5 and 7, transcribed from arXiv 2508.13979.

The CSV files and their conventions (``reference/paper/README.md`` in this package: source, task
directions, how Δm, Δm_pos and MR are defined, training setups) ship with the package, so that
the book can put the paper's values beside ours wherever a comparison means something: orderings,
ranks, gaps to the single-task and searched-weight rows, ratios and signs; never raw per-task values
of different benchmarks.

Recomputing the paper's CityScapes summary columns from its per-task columns with
:mod:`autoscale.evaluate` reproduces Δm to ±0.06, Δm_pos to ±0.16 (the printed per-task values are
rounded) and MR exactly, except the MR of "Searched weights": 3.67 from the table's own columns,
4.00 as printed (tested).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PAPER_DIR = Path(__file__).resolve().parent / "reference" / "paper"
SOURCE = "Yang et al., AutoScale, arXiv 2508.13979 (tables transcribed as CSV)"


def paper_tables() -> list[str]:
    """Names of the transcribed tables (file stems, e.g. ``table2_cityscapes``)."""
    return sorted(path.stem for path in PAPER_DIR.glob("*.csv"))


def paper_table(name: str) -> pd.DataFrame:
    """One of the paper's tables, indexed by its first column (the method or setting)."""
    path = PAPER_DIR / f"{name}.csv"
    if not path.is_file():
        raise ValueError(f"no paper table {name!r}; available: {', '.join(paper_tables())}")
    table = pd.read_csv(path)
    return table.set_index(table.columns[0])
