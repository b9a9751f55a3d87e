"""Chapter "Searching the weights" (beyond the paper): what a weight search buys over AutoScale.

Four ways to set linear-scalarization weights, each judged by test Δm against the single-task
baseline and by the training it costs, per benchmark over the profile's seeds:

- **grid**: the LS sweep's weight sets (9 at ``cpu``, 16 to 19 at ``cpu-long``, 19 at ``full``) on
  every seed, the set with the lowest mean validation Δm kept
  (:func:`autoscale.experiments.selection.choose_on_validation`);
- **random search**: the paper's "searched weights", 20 sets drawn on the simplex and trained on the
  first seed, the best on validation trained on the other seeds
  (:func:`autoscale.experiments.plans.random_search_groups`);
- **PBT**: population-based training of the weights (Royer et al. 2023), one search per seed, its
  member with the lowest final validation Δm kept (:mod:`autoscale.experiments.pbt`);
- **AutoScale**: one run per seed; and equal weights (unitary LS) as the no-search reference.

Compute is counted in *runs*: the training of one run of the profile (its epochs on its data). A
PBT member trains exactly one run's epochs along its lineage (an exploit copies the donor's state at
the same epoch), so a search of P members costs P runs. The measured minutes are given beside it:
the sum of the runs' own wall times, and for PBT the search's elapsed time (its members train side
by side, one core each, and wait at Tune's synchronous pauses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoscale.book.paired import PairedDifference, mean_interval, paired_difference
from autoscale.book.results import MainResults, delta_m_by_seed, run_main_results
from autoscale.evaluate import delta_m, directions, single_task_baseline
from autoscale.experiments.pbt import run_pbt
from autoscale.experiments.plans import PBTConfig, book_search_configs
from autoscale.experiments.selection import weight_label
from autoscale.experiments.store import RunStore

APPROACHES = ("unitary", "grid", "random", "pbt", "autoscale")
APPROACH_LABELS = {
    "unitary": "equal weights",
    "grid": "grid search",
    "random": "random search",
    "pbt": "PBT",
    "autoscale": "AutoScale",
}
# The main tables' rows behind each approach (autoscale.book.results.MainResults.groups).
MAIN_ROWS = {"unitary": "unitary", "grid": "searched", "random": "random", "autoscale": "autoscale"}


@dataclass
class WeightSearch:
    """One benchmark's four ways of setting the weights: the main tables' rows and the PBT searches
    (one result per seed, :func:`autoscale.experiments.pbt.run_pbt`)."""

    benchmark: str
    main: MainResults
    pbt: dict[int, dict]

    def task_names(self) -> list[str]:
        return self.main.plan.task_names

    def pbt_delta_m(self) -> dict[int, float]:
        """Test Δm of each search's best member (lowest final validation Δm), against the same
        single-task baseline as every other row."""
        baseline = single_task_baseline(r.data for r in self.main.stl)
        higher = directions(r.data for r in self.main.stl)
        return {seed: delta_m(result["best"]["test"], baseline, higher) for seed, result in self.pbt.items()}

    def delta_m(self) -> dict[str, dict[int, float]]:
        """Test Δm per approach (:data:`APPROACHES` that have runs), keyed by seed."""
        rows = self.main.groups()
        out = {a: delta_m_by_seed(rows[row], self.main.stl) for a, row in MAIN_ROWS.items() if rows.get(row)}
        if self.pbt:
            out["pbt"] = self.pbt_delta_m()
        return {a: out[a] for a in APPROACHES if a in out}

    def runs_trained(self) -> dict[str, float]:
        """The training each approach costs over all seeds, in runs (module docstring)."""
        main = self.main
        costs = {
            "unitary": len(main.methods.get("unitary", [])),
            "grid": len(main.ls),
            "random": len(main.random_trials) + len(main.random_chosen),
            "pbt": sum(r["config"]["population"] for r in self.pbt.values()),
            "autoscale": len(main.methods.get("autoscale", [])),
        }
        return {a: float(c) for a, c in costs.items() if c}

    def measured_minutes(self) -> dict[str, float]:
        """The wall time each approach took, in minutes (module docstring)."""
        rows = self.main.groups()
        runs = {
            "unitary": rows.get("unitary", []),
            "grid": self.main.ls,
            "random": [*self.main.random_trials, *self.main.random_chosen],
            "autoscale": rows.get("autoscale", []),
        }
        minutes = {a: sum(r.data["wall_seconds"] for r in rs) / 60 for a, rs in runs.items() if rs}
        if self.pbt:
            minutes["pbt"] = sum(r["wall_seconds"] for r in self.pbt.values()) / 60
        return minutes

    def chosen_weights(self) -> dict[str, str]:
        """The weights each search settled on: one set for grid and random search, each seed's best
        final weights for PBT."""
        out = {"unitary": weight_label([1.0] * len(self.task_names()))}
        out["grid"] = weight_label(self.main.selection[0])
        if self.main.random_selection is not None:
            out["random"] = weight_label(self.main.random_selection[0])
        if self.pbt:
            out["pbt"] = "; ".join(weight_label(self.pbt[s]["best"]["weights"]) for s in sorted(self.pbt))
        out["autoscale"] = "predicted per seed"
        return out

    def paired(self, a: str, b: str = "autoscale") -> PairedDifference:
        """Δm(a) - Δm(b) paired over seeds (negative: a better)."""
        dm = self.delta_m()
        return paired_difference(dm[a], dm[b])

    def table(self) -> pd.DataFrame:
        """One row per approach: runs trained, measured minutes, test Δm (mean, 95% t interval over
        seeds), the paired difference to AutoScale with its interval, and the weights chosen."""
        dm, runs, minutes, weights = self.delta_m(), self.runs_trained(), self.measured_minutes(), self.chosen_weights()
        rows = []
        for a, by_seed in dm.items():
            mean = mean_interval(by_seed)
            row = {
                "approach": APPROACH_LABELS[a],
                "runs trained": runs.get(a, np.nan),
                "minutes": minutes.get(a, np.nan),
                "seeds": mean.n,
                "Δm": mean.mean,
                "Δm low": mean.low,
                "Δm high": mean.high,
                "weights": weights.get(a, ""),
            }
            if a != "autoscale" and "autoscale" in dm:
                d = self.paired(a)
                row.update({"− AutoScale": d.mean, "diff low": d.low, "diff high": d.high, "sign": d.sign})
            rows.append(row)
        return pd.DataFrame(rows).set_index("approach")

    def records(self) -> list:
        return self.main.records()


def pbt_lineage(result: Mapping, member: int | None = None) -> list[dict]:
    """The path of ``member`` (default: the best) back to the start: its reports, and before each
    exploit the donor's, in epoch order. Each report's weights held over the interval that ends at
    its epoch, so the lineage is the weight schedule that produced the member's final model."""
    rows = result["reports"]
    by_key = {(r["member"], r["epoch"]): r for r in rows}
    epochs = sorted({r["epoch"] for r in rows})
    current = result["best"]["member"] if member is None else member
    path = []
    for epoch in reversed(epochs):
        row = by_key.get((current, epoch))
        if row is None:
            raise ValueError(f"member {current} has no report at epoch {epoch}")
        path.append(row)
        if row["copied_from"] is not None:
            current = row["copied_from"]
    return path[::-1]


def pbt_search_table(ws: WeightSearch) -> pd.DataFrame:
    """Per seed: the exploits, the best member, its final weights, validation and test Δm."""
    dm = ws.pbt_delta_m()
    rows = []
    for seed, result in sorted(ws.pbt.items()):
        best = result["best"]
        rows.append(
            {
                "seed": seed,
                "members": result["config"]["population"],
                "ready (epochs)": result["config"]["ready_epochs"],
                "exploits": result["exploits"],
                "best member": best["member"],
                "final weights": weight_label(best["weights"]),
                "val Δm": best["val_delta_m"],
                "test Δm": dm[seed],
                "minutes": result["wall_seconds"] / 60,
            }
        )
    return pd.DataFrame(rows).set_index("seed")


def run_pbt_searches(
    configs: Sequence[PBTConfig], store: RunStore | None = None, force: bool = False
) -> dict[int, dict]:
    """The PBT results of ``configs`` by seed: from the store, else searched now."""
    return {c.seed: run_pbt(c, store, force=force) for c in configs}


def run_weight_search(
    benchmarks: Sequence[str], profile: str, device: str = "cpu", store: RunStore | None = None, force: bool = False
) -> dict[str, WeightSearch]:
    """Train (or read from the store) every run and search of the chapter."""
    main = run_main_results(benchmarks, profile, device=device, store=store, force=force)
    return {
        b: WeightSearch(b, main[b], run_pbt_searches(book_search_configs(b, profile, device), store, force=force))
        for b in benchmarks
    }


def _resolved(d: PairedDifference, better: str, worse: str) -> str:
    """``d.text()`` and, with an interval, what it resolves ("PBT better", "not resolved")."""
    if d.sign is None:
        return d.text()
    return f"{d.text()}, " + {-1: f"{better} better", 1: f"{worse} better", 0: "not resolved"}[d.sign]


def findings(searches: Mapping[str, WeightSearch]) -> list[str]:
    """One Markdown bullet per benchmark: each search against AutoScale and PBT against the grid,
    paired over seeds, with what each costs in runs."""
    lines = []
    for benchmark, ws in searches.items():
        dm, runs = ws.delta_m(), ws.runs_trained()
        if "autoscale" not in dm:
            lines.append(f"- **{benchmark}**: no AutoScale runs to compare with.")
            continue
        parts = []
        for a in ("pbt", "grid", "random", "unitary"):
            if a in dm:
                d = ws.paired(a)
                label = APPROACH_LABELS[a]
                parts.append(f"{label} − AutoScale {_resolved(d, label, 'AutoScale')} ({runs[a]:.0f} runs)")
        if "pbt" in dm and "grid" in dm:
            d = paired_difference(dm["pbt"], dm["grid"])
            parts.append(f"PBT − grid search {_resolved(d, 'PBT', 'grid search')}")
        lines.append(f"- **{benchmark}** (AutoScale: {runs['autoscale']:.0f} runs): " + "; ".join(parts) + ".")
    return lines
