"""The verdict on each claim of the paper: the claim (from the cited reference file
``reference/paper_claims.json``), the paper's own figures behind it (computed from its transcribed
Tables 1-5 and 7 by :func:`autoscale.book.paper_comparison.paper_figures`), our evidence computed
from run records, and replicated / partly / not replicated / inconclusive with the reason.

Noise: differences between settings are judged against the seed-to-seed spread of Δm. For a
benchmark with at least two seeds in its main results, σ is the median over the table's rows of
the sample standard deviation (ddof = 1) of the per-seed Δm; a difference between a row of n_a
seeds and one of n_b seeds is resolved when it exceeds 2 σ √(1/n_a + 1/n_b) (about two standard
errors of the difference). With one seed there is no σ, and only orderings are reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from autoscale.book.paper_comparison import mean_rank, our_step_ratios, paper_figures, paper_step_ranges
from autoscale.book.results import AblationResults, MainResults, signature_table
from autoscale.evaluate import delta_m, directions, single_task_baseline
from autoscale.experiments.plans import ABLATIONS, EXTRA_METHODS, GRADIENT_METHODS
from autoscale.experiments.run_record import RunRecord

REPLICATED, PARTLY, NOT, INCONCLUSIVE = "replicated", "partly", "not replicated", "inconclusive"
# The longer explorations the default α is compared with (the paper's Fig. 6: "a fraction of its cost").
LONG_ALPHAS = (0.5, 1.0)


def load_paper_claims() -> dict[str, Any]:
    """The cited reference file: the paper, its URL, where its tables come from (``tables_note``)
    and the claims by id, each with where the paper makes it (section, table, figure)."""
    text = resources.files("autoscale.book").joinpath("reference/paper_claims.json").read_text()
    data = json.loads(text)
    data["by_id"] = {c["id"]: c for c in data["claims"]}
    return data


def per_seed_delta_m(records: list[RunRecord], stl_records: list[RunRecord]) -> list[float]:
    """Δm on test of each run against the single-task baseline (mean over seeds)."""
    baseline = single_task_baseline(r.data for r in stl_records)
    higher = directions(r.data for r in stl_records)
    return [delta_m(r.metrics(), baseline, higher) for r in records]


def seed_noise(main: MainResults) -> float:
    """σ of the module docstring for one benchmark; nan with fewer than two seeds."""
    stds = [
        float(np.std(per_seed_delta_m(runs, main.stl), ddof=1)) for runs in main.groups().values() if len(runs) >= 2
    ]
    return float(np.median(stds)) if stds else float("nan")


def resolved(difference: float, sigma: float, n_a: int, n_b: int) -> bool | None:
    """Whether ``difference`` exceeds the noise threshold; None when σ is unknown."""
    if not np.isfinite(sigma):
        return None
    return bool(abs(difference) > 2 * sigma * np.sqrt(1 / n_a + 1 / n_b))


def _combine(outcomes: list[str]) -> str:
    """All benchmarks replicated -> replicated; none replicated and some not -> not; unresolved
    everywhere -> inconclusive; anything else -> partly."""
    if outcomes and all(o == REPLICATED for o in outcomes):
        return REPLICATED
    if outcomes and all(o == INCONCLUSIVE for o in outcomes):
        return INCONCLUSIVE
    if outcomes and all(o in (NOT, INCONCLUSIVE) for o in outcomes):
        return NOT
    return PARTLY


def paper_column(claim: Mapping[str, Any]) -> str:
    """The paper's numbers behind a claim: its figures from the transcribed tables
    (:func:`autoscale.book.paper_comparison.paper_figures`), then the claim's note of the
    reference file (setup, or what a figure without numbers shows)."""
    figures = paper_figures(claim["id"])
    note = claim.get("paper_note", "")
    return f"{figures}. {note}" if figures and note else (figures or note)


def _row(claims: Mapping[str, Any], claim_id: str, evidence: str, verdict: str, why: str) -> dict[str, str]:
    claim = claims["by_id"][claim_id]
    return {
        "claim": f"{claim['claim']} ({claim['where']})",
        "paper's numbers": paper_column(claim),
        "our evidence": evidence,
        "verdict": verdict,
        "why": why,
    }


# -- the metric study -------------------------------------------------------------------------


def signature_verdict(correlations: pd.DataFrame, uninformative: bool) -> tuple[str, str]:
    """From :func:`autoscale.book.study.correlation_table`: the metrics with a claimed direction
    (``uninformative`` False) or those claimed to carry no information (True)."""
    claimed = correlations["paper's claim"] == "no relation"
    rows = correlations[claimed if uninformative else ~claimed]
    parts, outcomes = [], []
    for metric, group in rows.groupby("metric", sort=False):
        holds = group["verdict"].str.startswith("holds")
        opposite = group["verdict"].isin(["opposite", "does not hold (relation found)"])
        parts.append(
            f"{metric}: holds on {int(holds.sum())}/{len(group)}"
            + (f", opposite on {int(opposite.sum())}" if opposite.any() else "")
        )
        outcomes += [REPLICATED if h else (NOT if o else INCONCLUSIVE) for h, o in zip(holds, opposite, strict=True)]
    return "; ".join(parts), _combine(outcomes)


# -- main results -----------------------------------------------------------------------------


def beats_mtos(main: Mapping[str, MainResults]) -> tuple[str, str]:
    parts, outcomes = [], []
    for b, res in main.items():
        table = res.table()
        mtos = [m for m in res.methods if m not in ("unitary", "autoscale", *EXTRA_METHODS)]
        worse = int((table.loc[mtos, "Δm"] > table.loc["autoscale", "Δm"]).sum())
        parts.append(f"{b}: {worse}/{len(mtos)} MTOs have higher Δm")
        outcomes.append(REPLICATED if worse > len(mtos) / 2 else NOT)
    return "; ".join(parts), _combine(outcomes)


def near_searched(main: Mapping[str, MainResults]) -> tuple[str, str]:
    """Close = AutoScale's test Δm within noise of the searched weights' or better than at least
    75% of the sweep's weight sets."""
    parts, outcomes = [], []
    for b, res in main.items():
        table = res.table()
        _, selection = res.selection
        ours = table.loc["autoscale", "Δm"]
        gap = ours - table.loc["searched", "Δm"]
        share = float((selection["test Δm"] > ours).mean())
        n_ours, n_searched = int(table.loc["autoscale", "seeds"]), int(table.loc["searched", "seeds"])
        beyond = resolved(gap, seed_noise(res), n_ours, n_searched)
        close = gap <= 0 or beyond is False or share >= 0.75
        noise = "" if beyond is None else (" (within noise)" if not beyond else " (beyond noise)")
        parts.append(
            f"{b}: Δm gap to searched {gap:+.2f}{noise}, better than {share:.0%} of {len(selection)} weight sets"
        )
        outcomes.append(REPLICATED if close else (NOT if beyond or share < 0.5 else INCONCLUSIVE))
    return "; ".join(parts), _combine(outcomes)


def step_time(bench: Mapping[str, Any], main: Mapping[str, MainResults]) -> tuple[str, str]:
    """Ratios to unitary from the dedicated benchmark: AutoScale over a whole run at the default α
    (α × phase-1 step + (1 - α) × phase-2 step, :func:`autoscale.book.paper_comparison.our_step_ratios`)
    against the gradient-manipulating MTOs, and whether both fall in the paper's ranges (Table 7, lowest
    to highest over its datasets: :func:`autoscale.book.paper_comparison.paper_step_ranges`); and the
    measured training time of the main runs."""
    (lo_a, hi_a), (lo_m, hi_m) = paper_step_ranges()
    ratios = our_step_ratios(bench)
    parts, ordering, in_range = [], [], []
    for b in ratios.columns:
        ours = float(ratios.loc["autoscale", b])
        mto = [float(ratios.loc[m, b]) for m in GRADIENT_METHODS if np.isfinite(ratios.loc[m, b])]
        parts.append(f"{b}: AutoScale {ours:.2f}x, MTOs {min(mto):.2f}-{max(mto):.2f}x")
        ordering.append(ours < min(mto))
        in_range.append(lo_a <= ours <= hi_a and lo_m <= min(mto) and max(mto) <= hi_m)
    runs = []
    for b, res in main.items():
        table = res.table()
        unit = table.loc["unitary", "train time (s)"]
        runs.append(f"{b} {table.loc['autoscale', 'train time (s)'] / unit:.2f}x")
    evidence = (
        f"step-time benchmark ({bench['device']}): "
        + "; ".join(parts)
        + ". Training time of the main runs, AutoScale / unitary: "
        + ", ".join(runs)
    )
    if all(ordering) and all(in_range):
        return evidence, REPLICATED
    return evidence, PARTLY if all(ordering) else NOT


# -- ablations --------------------------------------------------------------------------------


NOISE_NOTE = {None: "one seed, no noise estimate", True: "beyond noise", False: "within noise"}


def _default_gap(res: AblationResults, sigma: float) -> tuple[float, bool | None, Any, Any]:
    """Gap of the default row's Δm to the best row, whether it is resolved, and both rows' values."""
    table = res.table()
    best = table["Δm"].idxmin()
    default = res.default
    gap = float(table.loc[default, "Δm"] - table.loc[best, "Δm"])
    return gap, resolved(gap, sigma, int(table.loc[default, "seeds"]), int(table.loc[best, "seeds"])), best, default


def default_is_best(ablation: Mapping[str, AblationResults], noise: Mapping[str, float]) -> tuple[str, str]:
    """A claim that the default is *the* best: replicated where the default has the lowest Δm and
    the runner-up is behind beyond noise, not replicated where the default is behind the best
    beyond noise, inconclusive where the gap either way is within noise (or σ is unknown)."""
    parts, outcomes = [], []
    for b, res in ablation.items():
        sigma = noise.get(b, float("nan"))
        gap, beyond, best, default = _default_gap(res, sigma)
        label = res.ablation.label
        if best == default:
            table = res.table()
            runner_up = table["Δm"].drop(index=default).idxmin()
            margin = float(table.loc[runner_up, "Δm"] - table.loc[default, "Δm"])
            n_default, n_runner = int(table.loc[default, "seeds"]), int(table.loc[runner_up, "seeds"])
            beyond = resolved(margin, sigma, n_default, n_runner)
            parts.append(
                f"{b}: {label(default)} best, runner-up {label(runner_up)} {margin:+.2f} Δm behind "
                f"({NOISE_NOTE[beyond]})"
            )
            outcomes.append(REPLICATED if beyond else INCONCLUSIVE)
            continue
        parts.append(f"{b}: best {label(best)}, {label(default)} {gap:+.2f} Δm behind ({NOISE_NOTE[beyond]})")
        outcomes.append(NOT if beyond else INCONCLUSIVE)
    return "; ".join(parts), _combine(outcomes)


def default_among_best(ablation: Mapping[str, AblationResults], noise: Mapping[str, float]) -> tuple[str, str]:
    """The default is the best or within noise of it (replicated), worse beyond noise (not)."""
    parts, outcomes = [], []
    for b, res in ablation.items():
        gap, beyond, best, default = _default_gap(res, noise.get(b, float("nan")))
        if best == default or beyond is False:
            outcomes.append(REPLICATED)
        else:
            outcomes.append(NOT if beyond else INCONCLUSIVE)
        label = res.ablation.label
        behind = "" if best == default else f", {label(default)} {gap:+.2f} Δm behind ({NOISE_NOTE[beyond]})"
        parts.append(f"{b}: best {label(best)}{behind}")
    return "; ".join(parts), _combine(outcomes)


def alpha_verdict(ablation: Mapping[str, AblationResults], noise: Mapping[str, float]) -> tuple[str, str]:
    """The default α within noise of the best α and cheaper than the longer explorations (``LONG_ALPHAS``)."""
    evidence, quality = default_among_best(ablation, noise)
    cheaper = []
    for b, res in ablation.items():
        table = res.table()
        t = table["train time (s)"] / table.loc[res.default, "train time (s)"]
        cheaper.append(all(t[a] > 1 for a in LONG_ALPHAS))
        evidence += f"; {b}: time ×(α={res.default:g}) at " + ", ".join(f"α={a:g} {t[a]:.2f}" for a in LONG_ALPHAS)
    if not all(cheaper):
        return evidence, NOT if quality == NOT else PARTLY
    return evidence, quality


def predictor_verdict(ablation: Mapping[str, AblationResults], noise: Mapping[str, float]) -> tuple[str, str]:
    """The default predictor (L.E.) has the lowest MR across benchmarks (replicated); else as
    :func:`default_is_best`. MR as in the paper's Table 5: each predictor's rank of Δm on every
    benchmark, averaged over benchmarks (:func:`autoscale.book.paper_comparison.mean_rank`)."""
    ranks = mean_rank({b: res.table()["Δm"] for b, res in ablation.items()})
    evidence, per_benchmark = default_is_best(ablation, noise)
    predictor = ABLATIONS["predictor"]
    evidence += "; MR (rank of Δm) across benchmarks: " + ", ".join(
        f"{predictor.label(k)} {v:.2f}" for k, v in ranks.sort_values().items()
    )
    if ranks[predictor.default] <= ranks.min() + 1e-9 and per_benchmark != INCONCLUSIVE:
        return evidence, REPLICATED
    return evidence, PARTLY if per_benchmark in (REPLICATED, PARTLY) else per_benchmark


# -- Fig. 8 -----------------------------------------------------------------------------------


def trajectories(main: Mapping[str, MainResults]) -> tuple[str, str]:
    """AutoScale beats the median LS weight set on every signature metric after the switch."""
    parts, outcomes = [], []
    for b, res in main.items():
        table = signature_table(res.methods["autoscale"], res.ls)
        shares = table["share of LS weight sets AutoScale beats"]
        good = int((shares >= 0.5).sum())
        undefined = int(shares.isna().sum())
        note = f" ({undefined} undefined: ŵ gives a task zero weight)" if undefined else ""
        parts.append(f"{b}: better than the median weight set on {good}/{len(shares)} metrics{note}")
        outcomes.append(REPLICATED if good == len(shares) else (NOT if good == 0 else PARTLY))
    return "; ".join(parts), _combine(outcomes)


def _why() -> dict[str, str]:
    """How each claim is judged, naming AutoScale's defaults (:data:`autoscale.methods.autoscale.DEFAULTS`)."""
    alpha, explore, cost, predictor = (ABLATIONS[name] for name in ("alpha", "explore", "cost", "predictor"))
    longer = " and ".join(f"{a:g}" for a in LONG_ALPHAS)
    return {
        "signature": (
            "replicated where the Spearman interval excludes 0 on the claimed side for every metric and benchmark "
            "(Linear-scalarization sweep chapter)"
        ),
        "uninformative": "replicated where no significant relation is found for every benchmark",
        "beats_mtos": (
            "replicated on a benchmark when AutoScale's mean Δm is lower than that of more than half of the MTOs"
        ),
        "near_searched": (
            "close when AutoScale's Δm is at most the searched weights' plus noise, or better than 75% of the "
            "sweep's weight sets"
        ),
        "step_time": (
            "replicated if AutoScale is cheaper than every gradient-manipulating MTO and both ratios fall in the "
            "paper's ranges (Table 7, lowest to highest over its three datasets); partly if only the ordering holds"
        ),
        "alpha": (f"replicated if α = {alpha.default:g} is within noise of the best α and cheaper than α = {longer}"),
        "explore": (
            f"replicated if {explore.label(explore.default)} is the best exploration method or within noise of it "
            "on every benchmark"
        ),
        "cost": (
            f"replicated if {cost.label(cost.default)} has the lowest Δm on every benchmark with the runner-up "
            "behind beyond noise; inconclusive where the gap to the best or to the runner-up is within noise"
        ),
        "predictor": (
            f"replicated if {predictor.label(predictor.default)} has the lowest MR (mean rank of Δm, Table 5) "
            "across benchmarks and is "
            "resolved best on some; inconclusive where every gap is within noise"
        ),
        "trajectories": (
            "replicated if, after the switch, AutoScale beats the median LS weight set on all four signature "
            "metrics on every benchmark"
        ),
    }


WHY = _why()


def verdict_table(
    main: Mapping[str, MainResults],
    ablations: Mapping[str, Mapping[str, AblationResults]],
    correlations: pd.DataFrame,
    bench: Mapping[str, Any] | None,
) -> pd.DataFrame:
    """One row per claim of the reference file, in its order: the claim with its place in the paper,
    the paper's numbers (:func:`paper_column`), our evidence, the verdict and its rule."""
    claims = load_paper_claims()
    noise = {b: seed_noise(res) for b, res in main.items()}
    evidence: dict[str, Callable[[], tuple[str, str]]] = {
        "signature": lambda: signature_verdict(correlations, uninformative=False),
        "uninformative": lambda: signature_verdict(correlations, uninformative=True),
        "beats_mtos": lambda: beats_mtos(main),
        "near_searched": lambda: near_searched(main),
        "step_time": lambda: step_time(bench, main) if bench else ("no benchmark file", INCONCLUSIVE),
        "alpha": lambda: alpha_verdict(ablations["alpha"], noise),
        "explore": lambda: default_among_best(ablations["explore"], noise),
        "cost": lambda: default_is_best(ablations["cost"], noise),
        "predictor": lambda: predictor_verdict(ablations["predictor"], noise),
        "trajectories": lambda: trajectories(main),
    }
    rows = []
    for claim in claims["claims"]:
        if claim["id"] in ABLATIONS and not ablations.get(claim["id"]):
            rows.append(_row(claims, claim["id"], "not run at this profile", INCONCLUSIVE, WHY[claim["id"]]))
            continue
        text, verdict = evidence[claim["id"]]()
        rows.append(_row(claims, claim["id"], text, verdict, WHY[claim["id"]]))
    return pd.DataFrame(rows)
