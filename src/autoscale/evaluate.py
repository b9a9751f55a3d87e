"""Multi-task evaluation conventions of the paper (Sec. 5).

For task k with primary metric M_k, baseline (single-task) value B_k and direction σ_k (1 when
higher is better, 0 otherwise):

- δm_k = (M_k − B_k) / B_k · 100
- Δm = (1/K) Σ_k (−1)^σ_k δm_k            (lower is better; Maninis et al. 2019)
- Δm_pos = Σ_k max((−1)^σ_k δm_k, 0)      (total degradation over the baseline)
- MR = mean over tasks of a method's rank among the methods of a table (1 = best; ties share
  the average rank).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def _signed_relative(
    results: Mapping[str, float], baseline: Mapping[str, float], higher_is_better: Mapping[str, bool]
) -> np.ndarray:
    """(−1)^σ_k δm_k for every task of the baseline: positive where the method is worse."""
    missing = [k for k in baseline if k not in results or k not in higher_is_better]
    if missing:
        raise ValueError(f"results or directions missing for task(s) {missing}; baseline has {list(baseline)}")
    out = []
    for task, base in baseline.items():
        if base == 0:
            raise ValueError(f"baseline of task {task!r} is 0: relative change is undefined")
        delta = (results[task] - base) / abs(base) * 100.0
        out.append(-delta if higher_is_better[task] else delta)
    return np.asarray(out, dtype=float)


def delta_m(results: Mapping[str, float], baseline: Mapping[str, float], higher_is_better: Mapping[str, bool]) -> float:
    """Δm in percent (lower is better), averaged over the baseline's tasks."""
    return float(_signed_relative(results, baseline, higher_is_better).mean())


def delta_m_pos(
    results: Mapping[str, float], baseline: Mapping[str, float], higher_is_better: Mapping[str, bool]
) -> float:
    """Δm_pos in percent: the summed degradation over the baseline (0 if no task is worse)."""
    return float(np.clip(_signed_relative(results, baseline, higher_is_better), 0.0, None).sum())


def mean_rank(table: Mapping[str, Mapping[str, float]], higher_is_better: Mapping[str, bool]) -> dict[str, float]:
    """MR of every method (row) of ``table`` = {method: {task: primary metric}} over its tasks."""
    methods = list(table)
    if not methods:
        return {}
    tasks = list(higher_is_better)
    ranks = np.zeros((len(methods), len(tasks)))
    for j, task in enumerate(tasks):
        values = np.array([table[m][task] for m in methods], dtype=float)
        ranks[:, j] = rankdata(-values if higher_is_better[task] else values, method="average")
    return {m: float(r) for m, r in zip(methods, ranks.mean(axis=1), strict=True)}


def primary_metrics(record: dict, split: str = "test") -> dict[str, float]:
    """Each task's primary metric at the end of a run (the last epoch's evaluation on ``split``)."""
    final = record.get("final")
    if final is None:
        raise ValueError(f"run {record['config']['method']} has no finished epoch")
    return {task: final[split][task][info["primary"]] for task, info in record["tasks"].items()}


def directions(records: Iterable[dict]) -> dict[str, bool]:
    """higher-is-better of every task's primary metric, over a set of records."""
    out: dict[str, bool] = {}
    for record in records:
        for task, info in record["tasks"].items():
            out[task] = info["higher_is_better"][info["primary"]]
    return out


def single_task_baseline(stl_records: Iterable[dict], split: str = "test") -> dict[str, float]:
    """B_k: the mean over seeds of each single-task run's primary metric."""
    values: dict[str, list[float]] = {}
    for record in stl_records:
        for task, value in primary_metrics(record, split).items():
            values.setdefault(task, []).append(value)
    return {task: float(np.mean(v)) for task, v in values.items()}


def results_table(
    groups: Mapping[str, Sequence[dict]], baseline: Mapping[str, float], split: str = "test"
) -> pd.DataFrame:
    """One row per group of runs (a method or weight set over seeds): mean and std of each task's
    primary metric, Δm, Δm_pos (computed per seed, then averaged), MR over the table's rows, the
    number of seeds and the median step time."""
    records = [r for runs in groups.values() for r in runs]
    higher = directions(records)
    rows = []
    for label, runs in groups.items():
        per_seed = [primary_metrics(r, split) for r in runs]
        row: dict[str, Any] = {"label": label, "seeds": len(runs)}
        for task in baseline:
            values = [m[task] for m in per_seed]
            row[task] = float(np.mean(values))
            row[f"{task} std"] = float(np.std(values))
        dms = [delta_m(m, baseline, higher) for m in per_seed]
        row["Δm"] = float(np.mean(dms))
        row["Δm std"] = float(np.std(dms))
        row["Δm_pos"] = float(np.mean([delta_m_pos(m, baseline, higher) for m in per_seed]))
        times = [r["median_step_time_s"] for r in runs if r.get("median_step_time_s")]
        row["step time (ms)"] = 1000 * float(np.median(times)) if times else float("nan")
        rows.append(row)
    table = pd.DataFrame(rows).set_index("label")
    ranks = mean_rank(
        {label: {t: table.loc[label, t] for t in baseline} for label in table.index}, {t: higher[t] for t in baseline}
    )
    table.insert(1, "MR", [ranks[label] for label in table.index])
    return table
