"""The metric study of the paper's Sec. 3 (Figs. 2 and 3): do good fixed weights show a signature
in MTO metrics during training?

For every linear-scalarization run the trainer logs :func:`autoscale.metrics.summarize_step`
every ``metrics_every`` steps. Here those trajectories are averaged over the run, per weight set
(and over seeds), and related to the weight set's Δm by Spearman's rank correlation with a
bootstrap interval over weight sets. The paper's claims (Sec. 3.2, Figs. 2-3): good weights (low
Δm) have high gradient magnitude similarity, a low condition number, and a small spread of
relative loss scale and of inverse training rate; cosine similarity does not depend on the
weights, and the loss descending rate is uninformative.

The paper's Appendix B.1 shows four more metrics beside these six: the cosine of each task
gradient to the final (aggregated) gradient, the projected gradient magnitude, the improvement
ratio and the loss variance. They are derived here from what the trainer already logs (the
per-task cosines to the update and the per-step losses), so every stored run has them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from autoscale.evaluate import delta_m, directions, results_table, single_task_baseline
from autoscale.experiments.plans import SweepPlan, stored_sweep_plan
from autoscale.experiments.run_record import RunRecord, run_records
from autoscale.experiments.runs import run_sweep_plan
from autoscale.experiments.selection import by_weight_set
from autoscale.experiments.store import RunStore
from autoscale.metrics import improvement_ratio, loss_descending_rate, loss_variance, relative, windowed_mean


@dataclass(frozen=True)
class StudyMetric:
    """A metric of the study: its trajectory key, label, and the sign of the paper's claimed
    Spearman correlation with Δm (-1: higher metric ↔ better, +1: lower ↔ better, 0: no relation,
    None: shown by the paper without a claimed direction, so only the relation found is reported)."""

    key: str
    label: str
    claim: int | None


STUDY_METRICS = (
    StudyMetric("gms", "gradient magnitude similarity", -1),
    StudyMetric("cos", "gradient cosine similarity", 0),
    StudyMetric("cond", "condition number", +1),
    StudyMetric("itr_std", "std of relative inverse training rate", +1),
    StudyMetric("ldr", "loss descending rate", 0),
    StudyMetric("rls_std", "std of relative loss scale", +1),
)
# Appendix B.1's metrics, as one scalar per logged step or window each: what every task gets from
# the update (mean cosine), how unevenly the update advances the tasks (spread of the relative
# projected magnitudes, the quantity IMTL-G equalises), how unevenly they converge (spread of the
# improvement ratios) and how noisy the losses are (squared coefficient of variation).
APPENDIX_B1_METRICS = (
    StudyMetric("cos_final", "mean cosine to the final gradient", None),
    StudyMetric("pgm_std", "std of relative projected gradient magnitude", None),
    StudyMetric("ir_std", "std of improvement ratio", None),
    StudyMetric("loss_cv2", "relative loss variance", None),
)
ALL_STUDY_METRICS = STUDY_METRICS + APPENDIX_B1_METRICS
CLAIM_TEXT = {-1: "higher is better", +1: "lower is better", 0: "no relation", None: "shown, no direction claimed"}
WINDOWS_PER_RUN = 8


def _window_means(record: RunRecord, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The weighted training losses w_i L_i of a run, (T, K), and their means over disjoint
    windows of ``window`` steps, (W, K)."""
    losses = torch.as_tensor(record.step_losses, dtype=torch.float64)
    weights = torch.as_tensor(record.step_weights, dtype=torch.float64)
    weighted = losses * weights
    return weighted, windowed_mean(weighted, window)


def loss_descending_trajectory(record: RunRecord, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean over tasks of the loss descending rate between consecutive windows of ``window``
    steps of the (weighted) training losses w_i L_i, and each window's end step."""
    _, means = _window_means(record, window)
    if len(means) < 2:
        return np.zeros(0), np.zeros(0)
    rate = loss_descending_rate(means[:-1], means[1:]).mean(dim=-1).numpy()
    steps = np.arange(2, len(means) + 1) * window
    return rate, steps


def improvement_ratio_trajectory(record: RunRecord, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Population std over tasks of the improvement ratio L_i(cur) / L_i(prev) of consecutive
    window means of the weighted losses (App. B.1; equal ratios mean the tasks converge at one
    speed), and each window's end step."""
    _, means = _window_means(record, window)
    if len(means) < 2:
        return np.zeros(0), np.zeros(0)
    spread = improvement_ratio(means[:-1], means[1:]).std(dim=-1, correction=0).numpy()
    return spread, np.arange(2, len(means) + 1) * window


def loss_variance_trajectory(record: RunRecord, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean over tasks of the loss variance within each window of ``window`` steps divided by the
    window's squared mean loss (App. B.1's loss variance made scale-free, so tasks and weight sets
    of different loss scales compare; a fixed weight cancels), and each window's end step."""
    weighted, means = _window_means(record, window)
    if not len(means):
        return np.zeros(0), np.zeros(0)
    blocks = weighted[: len(means) * window].reshape(len(means), window, -1)
    relative_variance = (loss_variance(blocks) / means**2).mean(dim=-1).numpy()
    return relative_variance, np.arange(1, len(means) + 1) * window


def _update_cosines(record: RunRecord) -> torch.Tensor:
    """The logged cos(g_i, sum_j w_j g_j), (steps, K); all nan where a run did not log them."""
    keys = [k for k in record.data["metrics"] if k.startswith("cos_update_")]
    if not keys:
        return torch.full((len(record.metric_steps), 1), float("nan"), dtype=torch.float64)
    keys.sort(key=lambda k: int(k.rsplit("_", 1)[1]))
    return torch.as_tensor(np.stack([record.trajectory(k) for k in keys], axis=-1), dtype=torch.float64)


def study_trajectory(record: RunRecord, key: str, window: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one study metric over a run.

    ``ldr``, ``ir_std`` and ``loss_cv2`` come from the step losses, over ``window`` steps (by default
    eight windows per run: enough values for a trajectory, enough steps per window to average out
    minibatch noise). ``cos_final`` and ``pgm_std`` come from the logged cosines to the update
    u = sum_j w_j g_j: the projected magnitude u · g_i / |g_i| = |u| cos(g_i, u), so its relative
    form K p_i / sum_j p_j is that of the cosines and needs no |u|.
    """
    by_window = {
        "ldr": loss_descending_trajectory,
        "ir_std": improvement_ratio_trajectory,
        "loss_cv2": loss_variance_trajectory,
    }
    if key in by_window:
        window = window or max(len(record.step_losses) // WINDOWS_PER_RUN, 1)
        values, steps = by_window[key](record, window)
        return steps, values
    if key == "cos_final":
        return record.metric_steps, _update_cosines(record).mean(dim=-1).numpy()
    if key == "pgm_std":
        return record.metric_steps, relative(_update_cosines(record)).std(dim=-1, correction=0).numpy()
    return record.metric_steps, record.trajectory(key)


def run_average(record: RunRecord, key: str, first_step: int = 0, last_step: int | None = None) -> float:
    """Mean of a study metric over the steps [first_step, last_step) of a run (the whole run by
    default): finite values only, the condition number in log10 because it spans orders of
    magnitude (the paper's Fig. 3 relates these run averages to Δm)."""
    steps, values = study_trajectory(record, key)
    end = np.inf if last_step is None else last_step
    values = values[(steps >= first_step) & (steps < end) & np.isfinite(values)]
    if key == "cond":
        values = np.log10(values[values > 0])
    return float(values.mean()) if len(values) else float("nan")


def sweep_table(ls_records: Sequence[RunRecord], baseline: Mapping[str, float], split: str = "test") -> pd.DataFrame:
    """One row per weight set: Δm on ``split`` and the run-averaged study metrics, averaged over
    seeds (the column ``seeds`` counts them)."""
    higher = directions(r.data for r in ls_records)
    out = []
    for label, runs in by_weight_set(ls_records).items():
        per_seed = [
            {
                "Δm": delta_m(r.metrics(split), baseline, higher),
                **{m.key: run_average(r, m.key) for m in ALL_STUDY_METRICS},
            }
            for r in runs
        ]
        mean = {k: float(np.mean([row[k] for row in per_seed])) for k in per_seed[0]}
        out.append({"weight set": label, "weights": runs[0].weights, "seeds": len(runs), **mean})
    return pd.DataFrame(out).set_index("weight set")


def spearman_bootstrap(
    x: Sequence[float],
    y: Sequence[float],
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    correlation: Callable = spearmanr,
) -> tuple[float, float, float]:
    """Spearman's ρ of (x, y) (or another rank ``correlation`` of scipy.stats, e.g. ``kendalltau``)
    and a percentile bootstrap interval over the pairs.

    Resamples whose ranks are constant (the correlation undefined) are skipped.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan"), float("nan")
    rho = float(correlation(x, y).statistic)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        if np.ptp(x[idx]) == 0 or np.ptp(y[idx]) == 0:
            continue
        draws.append(correlation(x[idx], y[idx]).statistic)
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return rho, float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return rho, float(low), float(high)


def verdict(claim: int | None, low: float, high: float) -> str:
    """Whether the bootstrap interval of ρ(Δm, metric) supports the paper's claimed direction; for a
    metric without a claim (None), which relation the interval shows."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "undetermined"
    excludes_zero = low > 0 or high < 0
    if claim is None:
        if not excludes_zero:
            return "no significant relation"
        return "lower is better" if low > 0 else "higher is better"
    if claim == 0:
        return "holds (no significant relation)" if not excludes_zero else "does not hold (relation found)"
    if not excludes_zero:
        return "inconclusive (interval includes 0)"
    return "holds" if np.sign(low) == claim else "opposite"


def correlation_table(
    tables: Mapping[str, pd.DataFrame], n_boot: int = 2000, study_metrics: Sequence[StudyMetric] = STUDY_METRICS
) -> pd.DataFrame:
    """For each benchmark's sweep table and each of ``study_metrics``: ρ(Δm, metric), its
    bootstrap interval, the paper's claim and the verdict."""
    rows = []
    for benchmark, table in tables.items():
        for m in study_metrics:
            rho, low, high = spearman_bootstrap(table["Δm"], table[m.key], n_boot=n_boot)
            rows.append(
                {
                    "benchmark": benchmark,
                    "metric": m.label,
                    "paper's claim": CLAIM_TEXT[m.claim],
                    "ρ(Δm, metric)": rho,
                    "95% interval": f"[{low:.2f}, {high:.2f}]",
                    "weight sets": int(np.isfinite(table[m.key]).sum()),
                    "verdict": verdict(m.claim, low, high),
                }
            )
    return pd.DataFrame(rows)


def pick_examples(table: pd.DataFrame, n_good: int = 3, n_bad: int = 3) -> dict[str, list[str]]:
    """The ``n_good`` best, one median and the ``n_bad`` worst weight sets by Δm (Fig. 2)."""
    order = table.sort_values("Δm").index.tolist()
    if len(order) < n_good + n_bad + 1:
        third = max(len(order) // 3, 1)
        return {"good": order[:third], "moderate": order[third:-third] or order[:0], "bad": order[-third:]}
    middle = order[len(order) // 2]
    return {"good": order[:n_good], "moderate": [middle], "bad": order[-n_bad:]}


@dataclass
class Sweep:
    """One benchmark's linear-scalarization sweep: the runs of every weight set and the single-task
    runs (the baseline of Δm), each over the plan's seeds."""

    plan: SweepPlan
    ls: list[RunRecord]
    stl: list[RunRecord]

    def baseline(self, split: str = "test") -> dict[str, float]:
        """B_k: each task's primary metric of its single-task runs, mean over seeds."""
        return single_task_baseline((r.data for r in self.stl), split)

    def study_table(self) -> pd.DataFrame:
        """:func:`sweep_table` against the single-task baseline."""
        return sweep_table(self.ls, self.baseline())

    def weight_set_table(self) -> pd.DataFrame:
        """:func:`autoscale.evaluate.results_table` with one row per weight set, labelled
        ``w = (w_1, ..., w_K)``: each task's primary test metric (mean, std over seeds), Δm, Δm_pos,
        MR among the weight sets and the median step time."""
        groups = {f"w = {label}": [r.data for r in runs] for label, runs in by_weight_set(self.ls).items()}
        return results_table(groups, self.baseline())

    def records(self) -> list[RunRecord]:
        return [*self.ls, *self.stl]


def run_sweep(plan: SweepPlan, store: RunStore | None = None, force: bool = False) -> Sweep:
    """Train (or read from the store) every run of ``plan``."""
    ls, stl = run_sweep_plan(plan, store, force=force)
    return Sweep(plan, run_records(ls), run_records(stl))


def stored_sweep(plan: SweepPlan, store: RunStore | None = None) -> Sweep | None:
    """The sweep if the store holds every run of ``plan`` (nothing is trained), else None."""
    stored = stored_sweep_plan(plan, store)
    return None if stored is None else Sweep(plan, run_records(stored[0]), run_records(stored[1]))


# The paper's Appendix A: IMTL-G, the default explorer, equalises the weighted gradients' magnitudes
# and their cosines to the update, while the (weighted) loss scales are left to drift.
APPENDIX_A_METHODS = ("imtlg", "unitary", "autoscale")


def appendix_a_table(methods: Mapping[str, Sequence[RunRecord]], edge: float = 0.1) -> pd.DataFrame:
    """Per method of :data:`APPENDIX_A_METHODS` that ``methods`` has (mean over its seeds): the GMS of
    the weighted and of the raw gradients, the spread of the cosines to the update across tasks
    (max - min of the run-averaged ``cos_update_i``), and the spread of the relative loss scales of
    the weighted losses over the first and the last ``edge`` of the run."""
    rows = []
    for method in (m for m in APPENDIX_A_METHODS if m in methods):
        per_seed = []
        for r in methods[method]:
            cosines = [run_average(r, k) for k in r.data["metrics"] if k.startswith("cos_update_")]
            early, late = int(edge * r.total_steps), int((1 - edge) * r.total_steps)
            per_seed.append(
                {
                    "GMS, weighted": run_average(r, "gms"),
                    "GMS, raw": run_average(r, "gms_raw"),
                    "cos to update: spread over tasks": max(cosines) - min(cosines),
                    f"loss-scale spread, first {edge:.0%}": run_average(r, "rls_std", 0, early),
                    f"loss-scale spread, last {edge:.0%}": run_average(r, "rls_std", late),
                }
            )
        rows.append({"method": method, "seeds": len(per_seed), **pd.DataFrame(per_seed).mean().to_dict()})
    return pd.DataFrame(rows).set_index("method")
