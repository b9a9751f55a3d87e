"""How many exploration windows does AutoScale need? (beyond the paper)

The paper explores for α T steps in windows of τ = 50, which on its runs is about 150 windows; our
short runs have a handful. This module reads the window-count study's runs
(:func:`autoscale.experiments.plans.window_study_configs`) two ways:

- **Prefixes of a long exploration.** An AutoScale run with α = 1 records the window weights of the
  whole run. The prediction from its first n windows is exactly what AutoScale would predict after
  exploring n τ steps (phase 2 aside: it would then train on with ŵ), so every predictor's ŵ can
  be computed for every n after the fact (:func:`prefix_predictions`), with the same predictor code
  the method uses (:func:`autoscale.methods.predictors.predict`, evaluated at γT of the run).
- **Shorter windows over the same exploration.** AutoScale runs with window τ at the default α give
  n = ⌊αT/τ⌋ windows (one more if the partial window is long enough) and their phase 2 is trained,
  so Δm is measured per count (:func:`window_count_table`). Phase 1 does not depend on the predictor,
  so every other predictor's ŵ on the same windows is exact too, though its Δm would need its own
  phase 2.

A prediction *switches a task off* when it clips that task's weight to 0: LS then never trains it.
L.E.† (the fitted line followed until γT) holds the same weights as L.E. from γT on, so its final
weights are L.E.'s and it is left out of the tables of ŵ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoscale.book.paired import mean_interval, paired_difference
from autoscale.book.results import MainResults, delta_m_by_seed
from autoscale.experiments.plans import (
    autoscale_window,
    main_configs,
    window_study_benchmarks,
    window_study_groups,
)
from autoscale.experiments.run_record import RunRecord, run_records
from autoscale.experiments.runs import sweep_groups
from autoscale.experiments.store import RunStore
from autoscale.methods.predictors import PREDICTORS, predict

PREDICTOR_LABELS = {"avg": "Avg W", "last": "Last W", "linear": "L.E.", "exp": "E.E."}
# Two predictions are "the same" when no task's weight (the weights sum to K) moves by more than this.
STABLE_TOLERANCE = 0.1


def prefix_predictions(record: RunRecord, counts: Sequence[int] | None = None) -> pd.DataFrame:
    """ŵ from the first n windows of ``record``'s AutoScale trace, for every predictor and each n in
    ``counts`` (default: 1 to all), evaluated at γT of the run. Columns: ``windows``, ``predictor``,
    ``seed``, one per task, ``off`` (how many tasks the prediction switches off)."""
    trace = record.autoscale
    if trace is None:
        raise ValueError(f"run {record.config_hash} is not an AutoScale run: it has no window weights")
    at_step = trace.gamma * record.total_steps
    n_windows = len(trace.window_weights)
    tasks = record.task_names
    rows: list[dict] = []
    for n in counts or range(1, n_windows + 1):
        if not 1 <= n <= n_windows:
            raise ValueError(f"the run has {n_windows} windows; cannot predict from the first {n}")
        for name in PREDICTORS:
            w = predict(name, trace.window_steps[:n], trace.window_weights[:n], at_step).numpy()
            rows.append(
                {
                    "windows": n,
                    "predictor": name,
                    "seed": record.seed,
                    **dict(zip(tasks, w, strict=True)),
                    "off": int((w == 0).sum()),
                }
            )
    return pd.DataFrame(rows, columns=["windows", "predictor", "seed", *tasks, "off"])


def stable_from(predictions: pd.DataFrame, tasks: Sequence[str], tolerance: float = STABLE_TOLERANCE) -> pd.DataFrame:
    """Per predictor and seed, the smallest window count n from which every later prediction stays
    within ``tolerance`` (each task's weight) of the prediction from all windows; the last count if
    none earlier does."""
    rows = []
    for (name, seed), group in predictions.groupby(["predictor", "seed"], sort=False):
        group = group.sort_values("windows")
        w = group[list(tasks)].to_numpy()
        far = np.abs(w - w[-1]).max(axis=1) > tolerance
        later_far = np.flip(np.logical_or.accumulate(np.flip(far)))  # some count >= n is far from the end
        counts = group["windows"].to_numpy()
        first = counts[~later_far][0]
        rows.append({"predictor": name, "seed": seed, "stable from": int(first), "of": int(counts[-1])})
    return pd.DataFrame(rows, columns=["predictor", "seed", "stable from", "of"])


def switch_off_share(predictions: pd.DataFrame) -> pd.DataFrame:
    """Share of runs (seeds) whose prediction switches at least one task off, by window count
    (rows) and predictor (columns)."""
    if predictions.empty:
        return pd.DataFrame(columns=list(PREDICTOR_LABELS.values()), dtype=float)
    off = predictions.assign(any_off=predictions["off"] > 0)
    table = off.pivot_table(index="windows", columns="predictor", values="any_off", aggfunc="mean")
    return table[[p for p in PREDICTORS if p in table.columns]].rename(columns=PREDICTOR_LABELS)


def window_count_table(
    runs_by_tau: Mapping[int, Sequence[RunRecord]], stl: Sequence[RunRecord], default_tau: int
) -> pd.DataFrame:
    """One row per window τ of the fixed-length study (the default τ's row is the main table's
    AutoScale run): windows explored, test Δm (mean, and low and high of its 95% t interval over seeds), Δm paired
    against the default τ, AutoScale's ŵ (L.E., mean over seeds), and per predictor the share of
    seeds whose ŵ on the same windows switches a task off."""
    default = delta_m_by_seed(runs_by_tau[default_tau], stl)
    rows = []
    for tau in sorted(runs_by_tau, reverse=True):
        runs = runs_by_tau[tau]
        dm = delta_m_by_seed(runs, stl)
        level = mean_interval(dm)
        row = {
            "τ": tau,
            "windows": max(len(r.autoscale.window_weights) for r in runs),
            "Δm": level.mean,
            "Δm low": level.low,
            "Δm high": level.high,
            "Δm − default τ, paired": "" if tau == default_tau else paired_difference(dm, default).text(),
            "ŵ (L.E.)": "("
            + ", ".join(f"{v:.2f}" for v in np.mean([r.autoscale.final_weights for r in runs], 0))
            + ")",
        }
        # A run too short to close a window (αT < 1) predicts nothing: it trains with unit weights.
        explored = [r for r in runs if len(r.autoscale.window_weights)]
        predictions = [prefix_predictions(r, [len(r.autoscale.window_weights)]) for r in explored]
        share = switch_off_share(pd.concat(predictions, ignore_index=True)) if predictions else None
        for name in PREDICTOR_LABELS.values():
            row[f"off: {name}"] = float(share[name].iloc[0]) if share is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("τ")


@dataclass
class WindowStudy:
    """One benchmark's window-count runs: AutoScale per window τ (the default τ's runs are the main
    table's), the α = 1 runs at the default τ, and the single-task runs."""

    benchmark: str
    default_tau: int
    by_tau: dict[int, list[RunRecord]]
    explore_all: list[RunRecord]
    stl: list[RunRecord]

    @property
    def tasks(self) -> list[str]:
        return self.explore_all[0].task_names

    def prefixes(self) -> pd.DataFrame:
        """:func:`prefix_predictions` of every α = 1 run, for every window count."""
        return pd.concat([prefix_predictions(r) for r in self.explore_all], ignore_index=True)

    def default_windows(self) -> int:
        """Windows of the default run (the main table's AutoScale)."""
        return max(len(r.autoscale.window_weights) for r in self.by_tau[self.default_tau])

    def table(self) -> pd.DataFrame:
        """:func:`window_count_table` of the runs per τ."""
        return window_count_table(self.by_tau, self.stl, self.default_tau)

    def records(self) -> list[RunRecord]:
        return [*self.stl, *self.explore_all, *(r for runs in self.by_tau.values() for r in runs)]


def run_window_study(
    available: Sequence[str], profile: str, device: str = "cpu", store: RunStore | None = None, force: bool = False
) -> dict[str, WindowStudy]:
    """Train (or read) the window-count study on the ``available`` benchmarks of
    :func:`~autoscale.experiments.plans.window_study_benchmarks`, in one batch."""
    benchmarks = [b for b in window_study_benchmarks(profile) if b in available]
    groups = window_study_groups(available, profile, device)
    records = sweep_groups(groups, store, force=force, desc="window-count study")
    out = {}
    for b in benchmarks:
        by_tau = {key[2]: run_records(runs) for key, runs in records.items() if key[0] == b and key[1] == "tau"}
        explore_all = next(run_records(runs) for key, runs in records.items() if key[:2] == (b, "explore_all"))
        out[b] = WindowStudy(b, autoscale_window(b, profile), by_tau, explore_all, run_records(records[b, "stl"]))
    return out


def stored_prefixes(benchmark: str, profile: str, device: str, store: RunStore | None = None) -> pd.DataFrame | None:
    """:func:`prefix_predictions` of the main table's AutoScale runs at ``profile`` read from the
    store (nothing is trained), or None unless all are there. A prefix of n windows of an α = 0.2
    run is an exploration of n τ steps, as for the α = 1 runs, up to the run's own count."""
    store = store or RunStore()
    loaded = [store.load(c) for c in main_configs(benchmark, profile, device, ["autoscale"])["autoscale"]]
    if any(r is None for r in loaded):
        return None
    return pd.concat([prefix_predictions(r) for r in run_records(loaded)], ignore_index=True)  # type: ignore[arg-type]


def exploration_table(main: Mapping[tuple[str, str], MainResults]) -> pd.DataFrame:
    """AutoScale of the main tables at each committed exploration length: one row per (profile,
    benchmark) key of ``main`` (results with the unitary and AutoScale rows at least): exploration α T
    (the switch step) of the run's T steps, windows explored × τ, the seeds whose ŵ switches a task
    off (a weight clipped to 0), and test Δm with AutoScale's paired differences to unitary LS and to
    the searched weights (:meth:`MainResults.paired`). The same method at its default α, so the rows
    differ in how long it explores, and in what the profile trains besides."""
    rows = []
    for (profile, benchmark), res in main.items():
        runs = res.methods["autoscale"]
        trace = runs[0].autoscale
        off = sum(min(r.autoscale.final_weights) <= 0 for r in runs)
        rows.append(
            {
                "profile": profile,
                "benchmark": benchmark,
                "exploration": f"{trace.switch_step} of {runs[0].total_steps} steps",
                "windows × τ": f"{max(len(r.autoscale.window_weights) for r in runs)} × {trace.window}",
                "seeds with a task off": f"{off} of {len(runs)}",
                "AutoScale Δm": mean_interval(delta_m_by_seed(runs, res.stl)).mean,
                "− unitary LS, paired": res.paired("autoscale", "unitary").text(),
                "− searched weights, paired": res.paired("autoscale", res.searched_row).text(),
            }
        )
    columns = ["benchmark", "profile", "exploration", "windows × τ", "seeds with a task off", "AutoScale Δm"]
    columns += ["− unitary LS, paired", "− searched weights, paired"]
    return pd.DataFrame(rows, columns=columns).set_index(["benchmark", "profile"])
