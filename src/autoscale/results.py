"""The paper's result experiments (Tables 1-5, Figs. 4-8): which runs each table needs, and the
tables built from their records.

- Main results (Tables 1, 2): the baselines the paper compares (``MAIN_METHODS``), unitary LS,
  the searched LS weights (the weight set of the LS sweep with the best Δm on the *validation*
  split, reported on test) and AutoScale with its defaults.
- Ablations (Table 3-5, Fig. 6): AutoScale with one option changed at a time (``ABLATIONS``).

AutoScale's window τ per profile (``AUTOSCALE_WINDOW``): 50 at ``full`` as in the paper. The ``cpu``
runs are 10-40x shorter (790 steps on MultiMNIST, 304 on the scenes), so τ = 50 would leave one to
three windows in the exploration phase (α T = 158 or 60 steps) and the predictors would have
nothing to extrapolate; τ shrinks there so that the exploration has six windows at α = 0.2, and
stays fixed across the α ablation, as in the paper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from autoscale.evaluate import delta_m, directions, primary_metrics, results_table, single_task_baseline
from autoscale.experiments import (
    RunConfig,
    RunStore,
    SweepPlan,
    check_profile,
    ls_sweep_plan,
    profile_config,
    profile_seeds,
    sweep_groups,
)
from autoscale.study import CLAIM_TEXT, STUDY_METRICS, weight_label

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
# The rows of the paper's Tables 1 and 2 that we train (searched weights come from the LS sweep).
MAIN_METHODS = ("uw", "gradnorm", "mgda", "pcgrad", "imtlg", "rlw", "alignedmtl", "famo", "unitary", "autoscale")
# Methods that manipulate per-task gradients every step (need the Gramian): the paper's costly MTOs.
GRADIENT_METHODS = ("gradnorm", "mgda", "pcgrad", "imtlg", "alignedmtl")

AUTOSCALE_DEFAULTS: dict[str, Any] = {
    "explore": "imtlg",
    "alpha": 0.2,
    "window": 50,
    "cost": "equal_grad",
    "predictor": "linear",
    "gamma": 0.5,
}
AUTOSCALE_WINDOW: dict[str, dict[str, int]] = {
    "smoke": {"multimnist": 1, "multifashion": 1, "scenes-street": 1, "scenes-indoor": 1},
    "cpu": {"multimnist": 25, "multifashion": 25, "scenes-street": 10, "scenes-indoor": 10},
    "full": {},
    "gpuday": {},
}


@dataclass(frozen=True)
class Ablation:
    """One AutoScale option varied over ``values`` (the others at their defaults)."""

    option: str
    title: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]


ABLATIONS: dict[str, Ablation] = {
    "alpha": Ablation(
        "alpha",
        "exploration ratio α (Fig. 6)",
        (0.05, 0.1, 0.2, 0.3, 0.5, 1.0),
        ("0.05", "0.1", "0.2", "0.3", "0.5", "1.0"),
    ),
    "explore": Ablation(
        "explore",
        "exploration method (Table 3)",
        ("unitary", "pcgrad", "alignedmtl", "imtlg", "famo"),
        ("Unitary", "PCGrad", "Aligned-MTL", "IMTL-G", "FAMO"),
    ),
    "cost": Ablation(
        "cost",
        "cost function (Table 4)",
        ("condition", "equal_loss", "equal_grad"),
        ("Low cond.", "Equal |l|", "Equal |g|"),
    ),
    "predictor": Ablation(
        "predictor",
        "weight predictor (Table 5)",
        ("avg", "last", "linear", "linear_follow", "exp"),
        ("Avg W", "Last W", "L.E.", "L.E.†", "E.E."),
    ),
}
# Benchmarks and seeds of each ablation per profile. At cpu the ablations run on MultiMNIST with one
# seed: a scenes run costs 2-3 MultiMNIST runs on 2 cores, and the book must build within an hour
# there (the scenes' main results and metric study already take half of it). The chapter shows the
# seed spread of the main results as the yardstick. At full every ablation runs on every benchmark.
ABLATION_BENCHMARKS: dict[str, dict[str, tuple[str, ...]]] = {
    "smoke": {name: ("multimnist",) for name in ABLATIONS},
    "cpu": {name: ("multimnist",) for name in ABLATIONS},
    "full": {name: ("multimnist", "scenes-street", "scenes-indoor") for name in ABLATIONS},
    "gpuday": {name: ("multimnist", "scenes-street", "scenes-indoor") for name in ABLATIONS},
}
ABLATION_SEEDS: dict[str, list[int]] = {"smoke": [0], "cpu": [0], "full": [0, 1, 2], "gpuday": [0, 1, 2]}


def autoscale_options(benchmark: str, profile: str, **overrides: Any) -> dict[str, Any]:
    """AutoScale's method options at ``profile``: the profile's window, then ``overrides``.

    Options equal to AutoScale's defaults are left out, so that the same run has the same config
    (and record in the run store) whichever table asks for it.
    """
    check_profile(profile)
    options = {"window": AUTOSCALE_WINDOW[profile].get(benchmark, AUTOSCALE_DEFAULTS["window"]), **overrides}
    unknown = set(options) - set(AUTOSCALE_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown AutoScale option(s) {sorted(unknown)}; options: {sorted(AUTOSCALE_DEFAULTS)}")
    return {k: v for k, v in options.items() if v != AUTOSCALE_DEFAULTS[k]}


def method_config(
    benchmark: str, profile: str, method: str, seed: int, device: str = "cpu", **options: Any
) -> RunConfig:
    """The config of one method's run; AutoScale gets :func:`autoscale_options`."""
    if method == "autoscale":
        options = autoscale_options(benchmark, profile, **options)
    return profile_config(benchmark, profile, device=device, method=method, seed=seed, method_options=options)


def main_configs(
    benchmark: str, profile: str, device: str = "cpu", methods: Sequence[str] = MAIN_METHODS
) -> dict[str, list[RunConfig]]:
    """Configs of the main table's trained rows, over the profile's seeds, keyed by method name."""
    seeds = profile_seeds(benchmark, profile)
    return {m: [method_config(benchmark, profile, m, s, device) for s in seeds] for m in methods}


def ablation_configs(benchmark: str, profile: str, name: str, device: str = "cpu") -> dict[str, list[RunConfig]]:
    """Configs of one ablation, keyed by the row label. α = 1 never switches to LS, so that row is
    the exploration method's own run (IMTL-G with the same seed), which is what AutoScale trains."""
    ablation = ABLATIONS[name]
    out = {}
    for value, label in zip(ablation.values, ablation.labels, strict=True):
        configs = []
        for seed in ABLATION_SEEDS[profile]:
            if name == "alpha" and value == 1.0:
                configs.append(method_config(benchmark, profile, AUTOSCALE_DEFAULTS["explore"], seed, device))
            else:
                configs.append(method_config(benchmark, profile, "autoscale", seed, device, **{ablation.option: value}))
        out[label] = configs
    return out


def merge_single_task(stl_records: Sequence[dict], split: str = "test") -> list[dict[str, float]]:
    """Per seed, every task's primary metric from its single-task run (one dict per seed)."""
    by_seed: dict[int, dict[str, float]] = {}
    for record in stl_records:
        by_seed.setdefault(record["config"]["seed"], {}).update(primary_metrics(record, split))
    return [by_seed[s] for s in sorted(by_seed)]


def choose_searched_weights(
    ls_records: Sequence[dict], stl_records: Sequence[dict]
) -> tuple[list[float], pd.DataFrame]:
    """The LS weight set with the lowest mean validation Δm (against the single-task models'
    validation metrics), and the selection table (validation and test Δm of every weight set).

    The choice never looks at the test split; the test column is shown to judge the choice.
    """
    higher = directions(ls_records)
    baselines = {split: single_task_baseline(stl_records, split) for split in ("val", "test")}
    rows: dict[str, dict[str, Any]] = {}
    for record in ls_records:
        weights = record["config"]["method_options"]["weights"]
        row = rows.setdefault(weight_label(weights), {"weights": tuple(weights), "val": [], "test": []})
        for split in ("val", "test"):
            row[split].append(delta_m(primary_metrics(record, split), baselines[split], higher))
    table = pd.DataFrame(
        [
            {
                "weight set": k,
                "weights": v["weights"],
                "seeds": len(v["val"]),
                "val Δm": np.mean(v["val"]),
                "test Δm": np.mean(v["test"]),
            }
            for k, v in rows.items()
        ]
    ).set_index("weight set")
    table["chosen"] = table["val Δm"] == table["val Δm"].min()
    best = table.index[table["chosen"].to_numpy().argmax()]
    return list(table.loc[best, "weights"]), table.sort_values("val Δm")


def searched_records(ls_records: Sequence[dict], weights: Sequence[float]) -> list[dict]:
    """The LS sweep's runs (all seeds) of one weight set."""
    return [r for r in ls_records if list(r["config"]["method_options"]["weights"]) == list(weights)]


def main_table(
    groups: Mapping[str, Sequence[dict]],
    stl_records: Sequence[dict],
    reference: str = "unitary",
    single_task_row: bool = True,
) -> pd.DataFrame:
    """The paper's Table 1/2 form: one row per method (mean over seeds): each task's primary test
    metric with its std, MR (among the multi-task rows), Δm_pos, Δm with its std, the median step
    time, the step time relative to ``reference`` (unitary LS) and :func:`training_time`.

    ``groups`` maps row labels (method names of ``METHOD_LABELS`` or free labels) to run records;
    the single-task row is built from ``stl_records`` and is the baseline (Δm = 0 by definition).
    """
    baseline = single_task_baseline(stl_records)
    table = results_table(groups, baseline)
    table["step time ×LS"] = (
        table["step time (ms)"] / table.loc[reference, "step time (ms)"] if reference in table.index else np.nan
    )
    table["train time (s)"] = [float(np.mean([training_time(r) for r in groups[label]])) for label in table.index]
    if not single_task_row:
        table.index.name = "setting"
        return table
    stl = merge_single_task(stl_records)
    stl_row: dict[str, Any] = {"seeds": len(stl), "MR": np.nan, "Δm": 0.0, "Δm std": np.nan, "Δm_pos": 0.0}
    for task in baseline:
        stl_row[task] = float(np.mean([s[task] for s in stl]))
        stl_row[f"{task} std"] = float(np.std([s[task] for s in stl]))
    table = pd.concat([pd.DataFrame([stl_row], index=["stl"]), table])
    table.index = [METHOD_LABELS.get(label, label) for label in table.index]
    table.index.name = "method"
    return table


def training_time(record: dict) -> float:
    """Seconds spent in training steps (the sum of step times: evaluation and metric logging excluded)."""
    return float(np.sum(record["steps"]["time_s"]))


def display_table(table: pd.DataFrame, tasks: Sequence[str], precision: int = 2) -> pd.DataFrame:
    """The table as a paper prints it: 'mean ± std over seeds' (std only with two seeds or more)."""
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


def phase_average(record: dict, key: str, first_step: int, last_step: int | None = None) -> float:
    """Mean of a logged metric over steps [first_step, last_step) of a run (finite values; the
    condition number in log10, as in the metric study)."""
    steps = np.asarray(record["metrics"]["step"])
    values = np.asarray(record["metrics"][key], dtype=float)
    keep = (steps >= first_step) & (steps < (last_step if last_step is not None else np.inf)) & np.isfinite(values)
    values = values[keep]
    if key == "cond":
        values = np.log10(values[values > 0])
    return float(values.mean()) if len(values) else float("nan")


def signature_table(autoscale_records: Sequence[dict], ls_records: Sequence[dict]) -> pd.DataFrame:
    """The paper's Fig. 8 claim in numbers: for each metric with a claimed direction for good
    weights (GMS high; condition number, spread of inverse training rate and of loss scale low),
    AutoScale's mean over its LS phase (steps from the switch on, averaged over seeds), the same
    mean for every LS weight set over the same steps, and the share of weight sets AutoScale beats
    in the claimed direction (nan where AutoScale's value is undefined)."""
    switch = autoscale_records[0]["method"]["switch_step"]
    rows = []
    for metric in STUDY_METRICS:
        if metric.claim == 0:
            continue
        ours = float(np.mean([phase_average(r, metric.key, switch) for r in autoscale_records]))
        per_set: dict[str, list[float]] = {}
        for r in ls_records:
            per_set.setdefault(weight_label(r["config"]["method_options"]["weights"]), []).append(
                phase_average(r, metric.key, switch)
            )
        ls = np.array([np.mean(v) for v in per_set.values()])
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
class MainResults:
    """Everything one benchmark's main table needs: the LS sweep (for the searched weights and the
    single-task baseline) and the trained methods, each over seeds."""

    plan: SweepPlan
    ls: list[dict]
    stl: list[dict]
    methods: dict[str, list[dict]]

    @cached_property
    def selection(self) -> tuple[list[float], pd.DataFrame]:
        """The searched weights (chosen on validation) and the selection table (computed once:
        ``groups``, ``table`` and the verdict all ask for it)."""
        return choose_searched_weights(self.ls, self.stl)

    def groups(self) -> dict[str, list[dict]]:
        """Rows in the paper's order: MTO baselines, unitary, searched weights, AutoScale."""
        weights, _ = self.selection
        rows = {m: self.methods[m] for m in self.methods if m != "autoscale"}
        rows["searched"] = searched_records(self.ls, weights)
        if "autoscale" in self.methods:
            rows["autoscale"] = self.methods["autoscale"]
        return rows

    def table(self) -> pd.DataFrame:
        return main_table(self.groups(), self.stl)

    def records(self) -> list[dict]:
        return [*self.ls, *self.stl, *(r for runs in self.methods.values() for r in runs)]


def main_groups(
    benchmarks: Sequence[str], profile: str, device: str = "cpu", methods: Sequence[str] = MAIN_METHODS
) -> dict[tuple[str, str], list[RunConfig]]:
    """Configs of the main tables: per benchmark, the LS sweep (``"ls"``), the single-task runs
    (``"stl"``) and each method's runs, keyed by (benchmark, group)."""
    groups: dict[tuple[str, str], list[RunConfig]] = {}
    for b in benchmarks:
        plan = ls_sweep_plan(b, profile, device=device)
        groups[b, "ls"] = plan.ls_configs
        groups[b, "stl"] = plan.stl_configs
        groups.update({(b, m): configs for m, configs in main_configs(b, profile, device, methods).items()})
    return groups


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
        b: MainResults(plan, records[b, "ls"], records[b, "stl"], {m: records[b, m] for m in methods})
        for b, plan in plans.items()
    }


@dataclass
class AblationResults:
    """One ablation on one benchmark: AutoScale runs per row label, and the single-task runs."""

    name: str
    benchmark: str
    rows: dict[str, list[dict]]
    stl: list[dict]

    @property
    def default_label(self) -> str:
        ablation = ABLATIONS[self.name]
        return ablation.labels[ablation.values.index(AUTOSCALE_DEFAULTS[ablation.option])]

    def table(self) -> pd.DataFrame:
        return main_table(self.rows, self.stl, reference=self.default_label, single_task_row=False)

    def records(self) -> list[dict]:
        return [*self.stl, *(r for runs in self.rows.values() for r in runs)]


def ablation_groups(available: Sequence[str], profile: str, device: str = "cpu") -> dict[tuple, list[RunConfig]]:
    """Configs of every ablation of ``ABLATION_BENCHMARKS[profile]`` on the ``available``
    benchmarks: the single-task runs keyed (benchmark, "stl"), the rows (benchmark, ablation, label)."""
    check_profile(profile)
    groups: dict[tuple, list[RunConfig]] = {}
    for name, benchmarks in ABLATION_BENCHMARKS[profile].items():
        for b in (b for b in benchmarks if b in available):
            groups[b, "stl"] = ls_sweep_plan(b, profile, device=device).stl_configs
            groups.update({(b, name, label): c for label, c in ablation_configs(b, profile, name, device).items()})
    return groups


def run_ablations(
    available: Sequence[str], profile: str, device: str = "cpu", store: RunStore | None = None, force: bool = False
) -> dict[str, dict[str, AblationResults]]:
    """Train (or read) every ablation of ``ABLATION_BENCHMARKS[profile]`` on the ``available``
    benchmarks, in one batch; returns {ablation: {benchmark: AblationResults}}."""
    records = sweep_groups(ablation_groups(available, profile, device), store, force=force, desc="ablations")
    out: dict[str, dict[str, AblationResults]] = {}
    for name, benchmarks in ABLATION_BENCHMARKS[profile].items():
        for b in (b for b in benchmarks if b in available):
            rows = {label: records[b, name, label] for label in ABLATIONS[name].labels}
            out.setdefault(name, {})[b] = AblationResults(name, b, rows, records[b, "stl"])
    return out
