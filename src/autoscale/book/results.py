"""The paper's result experiments (Tables 1-5, Figs. 4-8): which runs each table needs, and the
tables built from their records.

- Main results (Tables 1, 2): the baselines the paper compares (``MAIN_METHODS``), unitary LS,
  the searched LS weights (the weight set of the LS sweep with the best Δm on the *validation*
  split, reported on test) and AutoScale with its defaults.
- Ablations (Table 3-5, Fig. 6): AutoScale with one option changed at a time (``ABLATIONS``).

Tables are keyed by method id (``"unitary"``, ``"searched"``, ``"autoscale"``, the single-task row
``"stl"``) and ablation rows by the option's value (``0.2``, ``"linear"``); the paper's names
(:data:`METHOD_LABELS`, :meth:`autoscale.experiments.plans.Ablation.label`) are put on the rows
only for display (:func:`display_table`). AutoScale's window τ per profile is
:data:`autoscale.experiments.plans.AUTOSCALE_WINDOW`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from autoscale.book.study import CLAIM_TEXT, STUDY_METRICS, Sweep, by_weight_set, run_average
from autoscale.evaluate import delta_m, directions, results_table, single_task_baseline
from autoscale.experiments.plans import (
    ABLATION_BENCHMARKS,
    ABLATIONS,
    MAIN_METHODS,
    Ablation,
    ablation_groups,
    ls_sweep_plan,
    main_groups,
)
from autoscale.experiments.run_record import RunRecord, run_records
from autoscale.experiments.runs import sweep_groups
from autoscale.experiments.store import RunStore

METHOD_LABELS = {
    "stl": "Single-task",
    "uw": "UW",
    "gradnorm": "GradNorm",
    "mgda": "MGDA",
    "pcgrad": "PCGrad",
    "imtlg": "IMTL-G",
    "rlw": "RLW",
    "alignedmtl": "Aligned-MTL",
    "famo": "FAMO",
    "unitary": "Unitary LS",
    "searched": "Searched LS weights",
    "autoscale": "AutoScale",
}


def method_label(method: str) -> str:
    """The paper's name of a method id (:data:`METHOD_LABELS`); other row keys as they are."""
    return METHOD_LABELS.get(method, method)


def merge_single_task(stl_records: Sequence[RunRecord], split: str = "test") -> list[dict[str, float]]:
    """Per seed, every task's primary metric from its single-task run (one dict per seed)."""
    by_seed: dict[int, dict[str, float]] = {}
    for record in stl_records:
        by_seed.setdefault(record.seed, {}).update(record.metrics(split))
    return [by_seed[s] for s in sorted(by_seed)]


def choose_searched_weights(
    ls_records: Sequence[RunRecord], stl_records: Sequence[RunRecord]
) -> tuple[list[float], pd.DataFrame]:
    """The LS weight set with the lowest mean validation Δm (against the single-task models'
    validation metrics), and the selection table (validation and test Δm of every weight set).

    The choice never looks at the test split; the test column is shown to judge the choice.
    """
    higher = directions(r.data for r in ls_records)
    baselines = {split: single_task_baseline((r.data for r in stl_records), split) for split in ("val", "test")}
    rows = []
    for label, runs in by_weight_set(ls_records).items():
        dms = {split: [delta_m(r.metrics(split), baselines[split], higher) for r in runs] for split in ("val", "test")}
        rows.append(
            {
                "weight set": label,
                "weights": runs[0].weights,
                "seeds": len(runs),
                "val Δm": np.mean(dms["val"]),
                "test Δm": np.mean(dms["test"]),
            }
        )
    table = pd.DataFrame(rows).set_index("weight set")
    table["chosen"] = table["val Δm"] == table["val Δm"].min()
    best = table.index[table["chosen"].to_numpy().argmax()]
    return list(table.loc[best, "weights"]), table.sort_values("val Δm")


def searched_records(ls_records: Sequence[RunRecord], weights: Sequence[float]) -> list[RunRecord]:
    """The LS sweep's runs (all seeds) of one weight set."""
    return [r for r in ls_records if list(r.weights) == list(weights)]


def main_table(
    groups: Mapping[Any, Sequence[RunRecord]],
    stl_records: Sequence[RunRecord],
    reference: Any = "unitary",
    single_task_row: bool = True,
) -> pd.DataFrame:
    """The paper's Table 1/2 form: one row per group (mean over seeds): each task's primary test
    metric with its std, MR (among the multi-task rows), Δm_pos, Δm with its std, the median step
    time, the step time relative to the row ``reference`` (unitary LS) and the training time
    (:attr:`RunRecord.train_step_seconds`).

    Rows keep the keys of ``groups`` (method ids, or an ablation's option values); the single-task
    row ``"stl"`` is built from ``stl_records`` and is the baseline (Δm = 0 by definition).
    """
    baseline = single_task_baseline(r.data for r in stl_records)
    table = results_table({key: [r.data for r in runs] for key, runs in groups.items()}, baseline)
    table["step time ×LS"] = (
        table["step time (ms)"] / table.loc[reference, "step time (ms)"] if reference in table.index else np.nan
    )
    table["train time (s)"] = [float(np.mean([r.train_step_seconds for r in groups[key]])) for key in table.index]
    if not single_task_row:
        table.index.name = "setting"
        return table
    stl = merge_single_task(stl_records)
    stl_row: dict[str, Any] = {"seeds": len(stl), "MR": np.nan, "Δm": 0.0, "Δm std": np.nan, "Δm_pos": 0.0}
    for task in baseline:
        stl_row[task] = float(np.mean([s[task] for s in stl]))
        stl_row[f"{task} std"] = float(np.std([s[task] for s in stl]))
    table = pd.concat([pd.DataFrame([stl_row], index=["stl"]), table])
    table.index.name = "method"
    return table


def display_table(
    table: pd.DataFrame, tasks: Sequence[str], precision: int = 2, label: Callable[[Any], str] = method_label
) -> pd.DataFrame:
    """The table as a paper prints it: 'mean ± std over seeds' (std only with two seeds or more),
    rows named by ``label`` (the paper's method names by default)."""
    out = pd.DataFrame(index=table.index)
    several = table["seeds"].to_numpy() > 1
    for column in [*tasks, "Δm"]:
        digits = precision if column == "Δm" else max(precision, _digits(table[column]))
        out[column] = [
            f"{m:.{digits}f}" + (f" ± {s:.{digits}f}" if many and np.isfinite(s) else "")
            for m, s, many in zip(table[column], table[f"{column} std"], several, strict=True)
        ]
    out["Δm_pos"] = table["Δm_pos"].map(lambda v: f"{v:.{precision}f}")
    out["MR"] = table["MR"].map(lambda v: "–" if not np.isfinite(v) else f"{v:.2f}")
    if "step time ×LS" in table:
        out["step time ×LS"] = table["step time ×LS"].map(lambda v: "–" if not np.isfinite(v) else f"{v:.2f}")
    out["seeds"] = table["seeds"].astype(int)
    out.index = pd.Index([label(key) for key in table.index], name=table.index.name)
    return out


def _digits(values: pd.Series) -> int:
    """Decimals that show three significant digits of the column's typical magnitude."""
    finite = np.abs(values[np.isfinite(values)])
    scale = float(np.median(finite)) if len(finite) else 1.0
    return int(np.clip(2 - np.floor(np.log10(scale)) if scale > 0 else 2, 0, 5))


def mean_rank_across(tables: Mapping[str, pd.DataFrame]) -> pd.Series:
    """Table 5's summary: the mean over benchmarks of each row's MR (rows present everywhere)."""
    frames = [t["MR"] for t in tables.values()]
    return pd.concat(frames, axis=1, join="inner").mean(axis=1)


def signature_table(autoscale_records: Sequence[RunRecord], ls_records: Sequence[RunRecord]) -> pd.DataFrame:
    """The paper's Fig. 8 claim in numbers: for each metric with a claimed direction for good
    weights (GMS high; condition number, spread of inverse training rate and of loss scale low),
    AutoScale's mean over its LS phase (steps from the switch on, averaged over seeds), the same
    mean for every LS weight set over the same steps, and the share of weight sets AutoScale beats
    in the claimed direction (nan where AutoScale's value is undefined)."""
    switch = autoscale_records[0].autoscale.switch_step
    weight_sets = by_weight_set(ls_records)
    rows = []
    for metric in STUDY_METRICS:
        if metric.claim == 0:
            continue
        ours = float(np.mean([run_average(r, metric.key, switch) for r in autoscale_records]))
        ls = np.array([np.mean([run_average(r, metric.key, switch) for r in runs]) for runs in weight_sets.values()])
        beaten = (ls > ours) if metric.claim == +1 else (ls < ours)
        # Undefined (nan) when ŵ switches a task off: GMS and the condition number divide by its norm.
        share = float(beaten.mean()) if np.isfinite(ours) else float("nan")
        rows.append(
            {
                "metric": metric.label + (" (log10)" if metric.key == "cond" else ""),
                "good weights have": CLAIM_TEXT[metric.claim].replace(" is better", ""),
                "AutoScale": ours,
                "LS weight sets: best": float(ls.min() if metric.claim == +1 else ls.max()),
                "median": float(np.median(ls)),
                "worst": float(ls.max() if metric.claim == +1 else ls.min()),
                "share of LS weight sets AutoScale beats": share,
            }
        )
    return pd.DataFrame(rows).set_index("metric")


@dataclass
class MainResults(Sweep):
    """Everything one benchmark's main table needs: the LS sweep (for the searched weights and the
    single-task baseline) and the trained methods by id, each over seeds."""

    methods: dict[str, list[RunRecord]]

    @cached_property
    def selection(self) -> tuple[list[float], pd.DataFrame]:
        """The searched weights (chosen on validation) and the selection table (computed once:
        ``groups``, ``table`` and the verdict all ask for it)."""
        return choose_searched_weights(self.ls, self.stl)

    def groups(self) -> dict[str, list[RunRecord]]:
        """Rows by method id in the paper's order: MTO baselines, unitary, searched weights, AutoScale."""
        weights, _ = self.selection
        rows = {m: self.methods[m] for m in self.methods if m != "autoscale"}
        rows["searched"] = searched_records(self.ls, weights)
        if "autoscale" in self.methods:
            rows["autoscale"] = self.methods["autoscale"]
        return rows

    def table(self) -> pd.DataFrame:
        """:func:`main_table` of :meth:`groups`."""
        return main_table(self.groups(), self.stl)

    def records(self) -> list[RunRecord]:
        return [*self.ls, *self.stl, *(r for runs in self.methods.values() for r in runs)]


def run_main_results(
    benchmarks: Sequence[str],
    profile: str,
    device: str = "cpu",
    store: RunStore | None = None,
    force: bool = False,
    methods: Sequence[str] = MAIN_METHODS,
) -> dict[str, MainResults]:
    """Train (or read from the store) every run of the main tables, all benchmarks in one batch."""
    plans = {b: ls_sweep_plan(b, profile, device=device) for b in benchmarks}
    records = sweep_groups(main_groups(benchmarks, profile, device, methods), store, force=force, desc="main results")
    return {
        b: MainResults(
            plan,
            run_records(records[b, "ls"]),
            run_records(records[b, "stl"]),
            {m: run_records(records[b, m]) for m in methods},
        )
        for b, plan in plans.items()
    }


@dataclass
class AblationResults:
    """One ablation on one benchmark: AutoScale runs per value of the option, and the single-task runs."""

    name: str
    benchmark: str
    rows: dict[Any, list[RunRecord]]
    stl: list[RunRecord]

    @property
    def ablation(self) -> Ablation:
        return ABLATIONS[self.name]

    @property
    def default(self) -> Any:
        """The row of AutoScale's default value of the option."""
        return self.ablation.default

    def table(self) -> pd.DataFrame:
        """:func:`main_table` of the rows (keyed by value), step time relative to the default row."""
        return main_table(self.rows, self.stl, reference=self.default, single_task_row=False)

    def display(self) -> pd.DataFrame:
        """:func:`display_table` with the paper's row names and the training time relative to the
        default row ("time ×default") in place of the step time relative to it."""
        table = self.table()
        tasks = [t for r in self.stl for t in r.task_names]
        view = display_table(table, tasks, label=self.ablation.label)
        view["time ×default"] = (table["train time (s)"] / table.loc[self.default, "train time (s)"]).to_numpy()
        return view.drop(columns=["step time ×LS"])

    def records(self) -> list[RunRecord]:
        return [*self.stl, *(r for runs in self.rows.values() for r in runs)]


def run_ablations(
    available: Sequence[str], profile: str, device: str = "cpu", store: RunStore | None = None, force: bool = False
) -> dict[str, dict[str, AblationResults]]:
    """Train (or read) every ablation of ``ABLATION_BENCHMARKS[profile]`` on the ``available``
    benchmarks, in one batch; returns {ablation: {benchmark: AblationResults}}."""
    records = sweep_groups(ablation_groups(available, profile, device), store, force=force, desc="ablations")
    out: dict[str, dict[str, AblationResults]] = {}
    for name, benchmarks in ABLATION_BENCHMARKS[profile].items():
        for b in (b for b in benchmarks if b in available):
            rows = {value: run_records(records[b, name, value]) for value in ABLATIONS[name].values}
            out.setdefault(name, {})[b] = AblationResults(name, b, rows, run_records(records[b, "stl"]))
    return out
