"""The paper's own numbers as data: its Tables 1-5 and 7, transcribed from arXiv 2508.13979.

The CSV files and their conventions (``reference/paper/README.md`` in this package: source, task
directions, how Δm, Δm_pos and MR are defined, training setups) ship with the package, so that
the book can put the paper's values beside ours wherever a comparison means something: orderings,
ranks, gaps to the single-task and searched-weight rows, ratios and signs; never raw per-task values
of different benchmarks (:mod:`autoscale.book.paper_comparison`).

Recomputing the paper's CityScapes summary columns from its per-task columns with
:mod:`autoscale.evaluate` reproduces Δm to ±0.06, Δm_pos to ±0.16 (the printed per-task values are
rounded) and MR exactly, except the MR of "Searched weights": 3.67 from the table's own columns,
4.00 as printed (tested).

Besides the tables as printed (:func:`paper_table`), the paper's rows are given under our keys:
method ids for Tables 1, 2 and 7 (:func:`paper_main_tables`, :func:`paper_step_ratios`) and the
ablated option's values for Tables 3-5 (:func:`paper_ablation`), so that they line up with the
book's tables, which are keyed the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from autoscale.experiments.plans import ABLATIONS

PAPER_DIR = Path(__file__).resolve().parent / "reference" / "paper"
SOURCE = "Yang et al., AutoScale, arXiv 2508.13979 (tables transcribed as CSV)"

# The paper's datasets: the suffix of their column names in Tables 4, 5 and 7, and how they are named.
DATASETS = {"nuscenes": "NuScenes", "cityscapes": "CityScapes", "nyuv2": "NYUv2"}
# Tables 1 and 2, one per dataset.
MAIN_TABLES = {"NuScenes": "table1_nuscenes", "CityScapes": "table2_cityscapes", "NYUv2": "table2_nyuv2"}
# Tables 3-5: the ablation each one varies. Table 3 is on CityScapes only.
ABLATION_TABLES = {"explore": "table3_exploration", "cost": "table4_cost", "predictor": "table5_predictor"}
# The paper's row names of Tables 1, 2 and 7 and our method ids.
PAPER_METHOD_IDS = {
    "STL": "stl",
    "UW": "uw",
    "GradNorm": "gradnorm",
    "MGDA": "mgda",
    "PCGrad": "pcgrad",
    "IMTL-G": "imtlg",
    "RLW": "rlw",
    "Aligned-MTL": "alignedmtl",
    "FAMO": "famo",
    "Unitary": "unitary",
    "Searched weights": "searched",
    "AutoScale": "autoscale",
}
# Setting names of Tables 3-5 spelled otherwise than our labels (:attr:`Ablation.labels`).
PAPER_SETTING_NAMES = {"Avg. W": "Avg W", "L.E. dagger": "L.E.†"}


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


def _method_ids(table: pd.DataFrame, name: str) -> pd.DataFrame:
    unknown = set(table.index) - set(PAPER_METHOD_IDS)
    if unknown:
        raise ValueError(f"{name}: rows {sorted(unknown)} have no method id")
    out = table.rename(index=PAPER_METHOD_IDS)
    out.index.name = "method"
    return out


def paper_main_tables() -> dict[str, pd.DataFrame]:
    """Tables 1 (NuScenes) and 2 (CityScapes, NYUv2) by dataset, rows keyed by our method ids
    (``"stl"``, ``"uw"``, ..., ``"searched"``, ``"autoscale"``), the columns as printed (per-task
    metrics, ``MR``, ``delta_m_pos``, ``delta_m``; ``group`` is baseline, mto or ls)."""
    return {dataset: _method_ids(paper_table(name), name) for dataset, name in MAIN_TABLES.items()}


def paper_ablation(name: str) -> pd.DataFrame:
    """Δm of AutoScale per setting of one ablation (Table 3 ``explore``, 4 ``cost``, 5
    ``predictor``), rows keyed by the option's value (as :data:`autoscale.experiments.plans.ABLATIONS`),
    one column per dataset the paper reports (named as in :data:`DATASETS`)."""
    if name not in ABLATION_TABLES:
        raise ValueError(f"the paper has no table of the ablation {name!r}; tables: {sorted(ABLATION_TABLES)}")
    table = paper_table(ABLATION_TABLES[name])
    ablation = ABLATIONS[name]
    labels = [PAPER_SETTING_NAMES.get(row, row) for row in table.index]
    unknown = set(labels) - set(ablation.labels)
    if unknown:
        raise ValueError(f"{ABLATION_TABLES[name]}: settings {sorted(unknown)} are not values of {name!r}")
    values: list[Any] = [ablation.values[ablation.labels.index(label)] for label in labels]
    if "delta_m" in table:  # Table 3: one dataset
        out = table[["delta_m"]].set_axis(["CityScapes"], axis=1)
    else:
        out = table[[f"delta_m_{key}" for key in DATASETS]].set_axis(list(DATASETS.values()), axis=1)
    out.index = pd.Index(values, name="setting")
    return out


def paper_step_ratios() -> pd.DataFrame:
    """Table 7: seconds per iteration relative to unitary LS, rows keyed by method id, one column
    per dataset (GPU: NuScenes on 8 A100s, the others on one)."""
    table = _method_ids(paper_table("table7_runtime"), "table7_runtime")
    return table[[f"{key}_rel" for key in DATASETS]].set_axis(list(DATASETS.values()), axis=1)
