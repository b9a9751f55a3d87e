"""Chapter "Scalarization at scale (Royer et al.)": the LS sweep at several model capacities.

Royer et al., "Scalarization for Multi-Task and Multi-Domain Learning at Scale" (NeurIPS 2023)
claim that (2) larger models gain more from joint training, (3) the ranking of weight sets is
stable across model capacity, so the weights can be searched on a small model, and (4) gradient
conflict is weakly linked to performance and barely changes with capacity or weights. Here the
book's LS sweep (same weight sets, seeds, data) is trained at width multipliers of the model
(:data:`autoscale.experiments.plans.CAPACITY_WIDTHS`), each against single-task models of its own
width, so Δm measures what joint training gains at that capacity.

- **Ranking stability** (claim 3): Kendall's τ between the weight sets' mean test Δm at two
  widths, with a percentile bootstrap interval over weight sets; beside it the τ between two seeds
  at the same width, the stability that seed noise alone allows.
- **Gain against capacity** (claim 2): Δm of equal weights, of the grid's choice (on validation)
  and the mean over all weight sets, per width, with t intervals over seeds.
- **Gradient conflict** (claim 4): the share of task pairs whose gradients conflict (cos < 0) per
  encoder layer, averaged over each run's logged steps (:func:`autoscale.metrics.layer_conflict`),
  against width, weights and Δm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from autoscale.book.paired import mean_interval
from autoscale.book.study import Sweep, run_sweep, spearman_bootstrap
from autoscale.evaluate import delta_m, directions
from autoscale.experiments.plans import CAPACITY_BENCHMARKS, CAPACITY_WIDTHS, book_benchmarks, capacity_plan
from autoscale.experiments.run_record import RunRecord
from autoscale.experiments.selection import by_weight_set, choose_on_validation, weight_label
from autoscale.experiments.store import RunStore
from autoscale.training.models import build_model

CONFLICT_PREFIX = "layer_conflict/"


def width_label(width: float) -> str:
    return f"×{width:g}"


def run_conflict(record: RunRecord) -> dict[str, float]:
    """Per encoder layer, the share of conflicting task pairs averaged over the run's logged steps."""
    logged = record.data["metrics"]
    out = {}
    for key in (k for k in logged if k.startswith(CONFLICT_PREFIX)):
        values = np.asarray(logged[key], dtype=float)
        values = values[np.isfinite(values)]
        out[key.removeprefix(CONFLICT_PREFIX)] = float(values.mean()) if len(values) else float("nan")
    return out


@dataclass
class CapacityStudy:
    """One benchmark's LS sweep at every width: :class:`~autoscale.book.study.Sweep` by width."""

    benchmark: str
    sweeps: dict[float, Sweep]

    def per_seed(self, width: float) -> pd.DataFrame:
        """Test Δm of every weight set (rows) and seed (columns) at ``width``, against the
        single-task runs of that width."""
        sweep = self.sweeps[width]
        baseline = sweep.baseline()
        higher = directions(r.data for r in sweep.stl)
        rows = {
            label: {r.seed: delta_m(r.metrics(), baseline, higher) for r in runs}
            for label, runs in by_weight_set(sweep.ls).items()
        }
        return pd.DataFrame(rows).T.sort_index(axis=1)

    def delta_m_table(self) -> pd.DataFrame:
        """Mean test Δm over seeds of each weight set (rows) at each width (columns)."""
        return pd.DataFrame({width_label(w): self.per_seed(w).mean(axis=1) for w in self.sweeps})

    def kendall_table(self, n_boot: int = 2000) -> pd.DataFrame:
        """Kendall's τ between the weight-set rankings (by mean test Δm) of every pair of widths,
        with its bootstrap interval over weight sets; and, per width, the median τ between the
        rankings of two of its seeds (the noise ceiling)."""
        table = self.delta_m_table()
        rows = []
        for a, b in combinations(table.columns, 2):
            tau, low, high = spearman_bootstrap(table[a], table[b], n_boot=n_boot, correlation=kendalltau)
            rows.append({"pair": f"{a} vs {b}", "τ": tau, "low": low, "high": high, "weight sets": len(table)})
        for w in self.sweeps:
            seeds = self.per_seed(w)
            taus = [kendalltau(seeds[s], seeds[t]).statistic for s, t in combinations(seeds.columns, 2)]
            if taus:
                rows.append(
                    {
                        "pair": f"{width_label(w)}: seed vs seed",
                        "τ": float(np.median(taus)),
                        "low": float(np.min(taus)),
                        "high": float(np.max(taus)),
                        "weight sets": len(seeds),
                    }
                )
        return pd.DataFrame(rows).set_index("pair")

    def grid_choice(self, width: float) -> tuple[str, dict[int, float]]:
        """The weight set the grid keeps at ``width`` (lowest mean validation Δm) and its test Δm by seed."""
        sweep = self.sweeps[width]
        weights, _ = choose_on_validation(sweep.ls, sweep.stl)
        label = weight_label(weights)
        return label, self.per_seed(width).loc[label].dropna().to_dict()

    def gain_table(self) -> pd.DataFrame:
        """Per width: the shared encoder's parameter count; Δm of equal weights and of the grid's
        choice on validation (mean over seeds, 95% t interval) and the mean Δm of all weight sets."""
        rows = []
        for w, sweep in self.sweeps.items():
            seeds = self.per_seed(w)
            chosen, _ = self.grid_choice(w)
            equal = weight_label([1.0] * len(sweep.plan.task_names))
            row: dict = {"width": width_label(w), "encoder parameters": encoder_parameters(self.benchmark, sweep)}
            for name, label in (("equal weights", equal), ("grid's choice", chosen)):
                if label in seeds.index:
                    m = mean_interval(seeds.loc[label].dropna().to_dict())
                    row.update({f"Δm {name}": m.mean, f"{name} low": m.low, f"{name} high": m.high})
            row["Δm mean of all sets"] = float(seeds.mean(axis=1).mean())
            row["grid's choice"] = chosen
            rows.append(row)
        return pd.DataFrame(rows).set_index("width")

    def conflict_runs(self) -> pd.DataFrame:
        """One row per LS run: width, weight set, seed, test Δm and each layer's mean conflict share."""
        rows = []
        for w, sweep in self.sweeps.items():
            seeds = self.per_seed(w)
            for label, runs in by_weight_set(sweep.ls).items():
                for r in runs:
                    rows.append(
                        {
                            "width": w,
                            "weight set": label,
                            "seed": r.seed,
                            "Δm": seeds.loc[label, r.seed],
                            **run_conflict(r),
                        }
                    )
        return pd.DataFrame(rows)

    def records(self) -> list[RunRecord]:
        return [r for s in self.sweeps.values() for r in s.records()]


def encoder_parameters(benchmark: str, sweep: Sweep) -> int:
    """The shared encoder's parameter count of the sweep's model (built, not trained)."""
    config = sweep.plan.ls_configs[0]
    model = build_model(benchmark, sweep.plan.task_names, **config.model)
    return sum(p.numel() for p in model.shared_parameters())


def conflict_table(study: CapacityStudy) -> pd.DataFrame:
    """Per width and layer: the mean conflict share over runs, its spread over weight sets (max - min
    of the per-set means) and Spearman's ρ between a run's conflict share and its Δm."""
    runs = study.conflict_runs()
    layers = [c for c in runs.columns if c not in ("width", "weight set", "seed", "Δm")]
    rows = []
    for w, group in runs.groupby("width"):
        for layer in layers:
            by_set = group.groupby("weight set")[layer].mean()
            rho, low, high = spearman_bootstrap(group["Δm"], group[layer])
            rows.append(
                {
                    "width": width_label(w),
                    "layer": layer,
                    "conflict share": float(group[layer].mean()),
                    "spread over weight sets": float(by_set.max() - by_set.min()),
                    "ρ(Δm, conflict)": rho,
                    "ρ low": low,
                    "ρ high": high,
                }
            )
    return pd.DataFrame(rows).set_index(["width", "layer"])


def run_capacity_study(
    profile: str, device: str = "cpu", store: RunStore | None = None, force: bool = False
) -> dict[str, CapacityStudy]:
    """Train (or read from the store) the sweep of every width on the study's benchmarks
    (:data:`~autoscale.experiments.plans.CAPACITY_BENCHMARKS` that the book shows here)."""
    shown = book_benchmarks()
    return {
        b: CapacityStudy(
            b,
            {w: run_sweep(capacity_plan(b, profile, w, device), store, force=force) for w in CAPACITY_WIDTHS[profile]},
        )
        for b in CAPACITY_BENCHMARKS[profile]
        if b in shown
    }


def stability_summary(studies: Mapping[str, CapacityStudy]) -> list[str]:
    """One Markdown bullet per benchmark: the smallest cross-width τ against the seeds' ceiling."""
    lines = []
    for b, study in studies.items():
        table = study.kendall_table()
        across = table[~table.index.str.contains("seed vs seed")]
        within = table[table.index.str.contains("seed vs seed")]
        lines.append(
            f"- **{b}**: τ across widths {across['τ'].min():+.2f} to {across['τ'].max():+.2f}; "
            f"between seeds at one width (median) {within['τ'].min():+.2f} to {within['τ'].max():+.2f}."
        )
    return lines
