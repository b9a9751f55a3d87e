"""The verdict on each claim of the paper: the claim (from the cited reference file
``reference/paper_claims.json``), the paper's own figures behind it (computed from its transcribed
Tables 1-5 and 7 by :func:`autoscale.book.paper_comparison.paper_figures`), our evidence computed
from run records, and replicated / partly / not replicated / inconclusive with the reason.

Every "A vs B" judgement is paired over seeds (:mod:`autoscale.book.paired`): the per-seed
difference of test Δm with its 95% t interval over seeds. A difference is *resolved* when the
interval excludes 0; with one seed there is no interval and nothing is resolved. Each benchmark is
judged on the strongest evidence the caller passes (e.g. the committed ``full`` GPU runs where they
are complete), and each row names it (:func:`evidence_label`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from autoscale.book.paired import PairedDifference
from autoscale.book.paper_comparison import mean_rank, our_step_ratios, paper_figures, paper_step_ranges
from autoscale.book.provenance import provenance, unique_runs
from autoscale.book.results import AblationResults, MainResults, signature_table
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


def evidence_label(records: Iterable[RunRecord]) -> str:
    """Which evidence a benchmark's judgement reads: profile, device, seeds, and how many of its
    runs are stale (trained by other code; :attr:`RunRecord.is_stale`)."""
    p = provenance(unique_runs(records))
    stale = f"; {p['stale']}" if p["stale"] != "none stale" else ""
    return f"profile {p['profile']} on {p['device']}, seeds {p['seeds']}{stale}"


def combine_outcomes(outcomes: list[str]) -> str:
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


def _row(
    claims: Mapping[str, Any], claim_id: str, evidence: str, verdict: str, why: str, change: str, sources: str
) -> dict[str, str]:
    claim = claims["by_id"][claim_id]
    return {
        "claim": f"{claim['claim']} ({claim['where']})",
        "paper's numbers": paper_column(claim),
        "our evidence": evidence,
        "evidence read": sources,
        "verdict": verdict,
        "why": why,
        "what would change this verdict": change,
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
    return "; ".join(parts), combine_outcomes(outcomes)


# -- main results -----------------------------------------------------------------------------


def beats_mtos(main: Mapping[str, MainResults]) -> tuple[str, str]:
    """Per benchmark, AutoScale against each of the paper's MTOs, paired: replicated where AutoScale
    is resolved lower than more than half of them and resolved higher than none; not replicated
    where it is resolved higher than at least half; inconclusive where nothing is resolved."""
    parts, outcomes = [], []
    for b, res in main.items():
        mtos = [m for m in res.methods if m not in ("unitary", "autoscale", *EXTRA_METHODS)]
        diffs = {m: res.paired("autoscale", m) for m in mtos}
        lower = sum(d.sign == -1 for d in diffs.values())
        higher = sum(d.sign == 1 for d in diffs.values())
        mean_lower = sum(d.mean < 0 for d in diffs.values())
        n = len(mtos)
        seeds = min(d.n for d in diffs.values())
        parts.append(
            f"{b}: AutoScale's Δm lower than {mean_lower}/{n} MTOs on the mean; resolved lower than {lower}, "
            f"resolved higher than {higher} ({seeds} paired seeds)"
        )
        if lower > n / 2 and higher == 0:
            outcomes.append(REPLICATED)
        elif higher >= n / 2:
            outcomes.append(NOT)
        elif lower == higher == 0:
            outcomes.append(INCONCLUSIVE)
        else:
            outcomes.append(PARTLY)
    return "; ".join(parts), combine_outcomes(outcomes)


def near_searched(main: Mapping[str, MainResults]) -> tuple[str, str]:
    """Close = AutoScale's Δm not resolved above the searched weights' (paired; the best of 20 random
    trials where they were run, as in the paper, else the grid's), or better than at least 75% of
    the grid's weight sets; not replicated where it is resolved above and worse than half of them."""
    parts, outcomes = [], []
    for b, res in main.items():
        table = res.table()
        _, selection = res.selection
        ours = table.loc["autoscale", "Δm"]
        row = res.searched_row
        d = res.paired("autoscale", row)
        share = float((selection["test Δm"] > ours).mean())
        grid = f"; − grid-searched {res.paired('autoscale', 'searched').text()}" if row == "random" else ""
        parts.append(
            f"{b}: Δm AutoScale − searched ({'20 random trials' if row == 'random' else 'grid'}) {d.text()}{grid}, "
            f"better than {share:.0%} of {len(selection)} grid weight sets"
        )
        if d.sign is None:
            outcomes.append(INCONCLUSIVE)
        elif d.sign <= 0 or share >= 0.75:
            outcomes.append(REPLICATED)
        else:
            outcomes.append(NOT if share < 0.5 else PARTLY)
    return "; ".join(parts), combine_outcomes(outcomes)


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


def _best_and_gap(res: AblationResults) -> tuple[Any, PairedDifference | None]:
    """The row with the lowest mean Δm and, if that is not the default, Δm(default) - Δm(best) paired."""
    best = res.table()["Δm"].idxmin()
    return best, None if best == res.default else res.paired(res.default, best)


def default_is_best(ablation: Mapping[str, AblationResults]) -> tuple[str, str]:
    """A claim that the default is *the* best: replicated where the default has the lowest mean Δm
    and is resolved below the runner-up (paired), not replicated where the best row is resolved
    below the default, inconclusive where the interval holds 0 (or there is one seed)."""
    parts, outcomes = [], []
    for b, res in ablation.items():
        label = res.ablation.label
        best, gap = _best_and_gap(res)
        if gap is None:
            runner_up = res.table()["Δm"].drop(index=res.default).idxmin()
            margin = res.paired(runner_up, res.default)
            parts.append(f"{b}: {label(best)} best; runner-up {label(runner_up)} − default {margin.text()}")
            outcomes.append(REPLICATED if margin.sign == 1 else INCONCLUSIVE)
            continue
        parts.append(f"{b}: best {label(best)}; default {label(res.default)} − best {gap.text()}")
        outcomes.append(NOT if gap.sign == 1 else INCONCLUSIVE)
    return "; ".join(parts), combine_outcomes(outcomes)


def default_among_best(ablation: Mapping[str, AblationResults]) -> tuple[str, str]:
    """The default is the best or not resolved behind it (replicated), resolved behind it (not),
    one seed (inconclusive)."""
    parts, outcomes = [], []
    for b, res in ablation.items():
        label = res.ablation.label
        best, gap = _best_and_gap(res)
        if gap is None:
            outcomes.append(REPLICATED)
            parts.append(f"{b}: best {label(best)}")
            continue
        outcomes.append({None: INCONCLUSIVE, 1: NOT}.get(gap.sign, REPLICATED))
        parts.append(f"{b}: best {label(best)}; default {label(res.default)} − best {gap.text()}")
    return "; ".join(parts), combine_outcomes(outcomes)


def alpha_verdict(ablation: Mapping[str, AblationResults]) -> tuple[str, str]:
    """The default α not resolved behind the best α, and cheaper than the longer explorations (``LONG_ALPHAS``)."""
    evidence, quality = default_among_best(ablation)
    cheaper = []
    for b, res in ablation.items():
        table = res.table()
        t = table["train time (s)"] / table.loc[res.default, "train time (s)"]
        cheaper.append(all(t[a] > 1 for a in LONG_ALPHAS))
        evidence += f"; {b}: time ×(α={res.default:g}) at " + ", ".join(f"α={a:g} {t[a]:.2f}" for a in LONG_ALPHAS)
    if not all(cheaper):
        return evidence, NOT if quality == NOT else PARTLY
    return evidence, quality


def predictor_verdict(ablation: Mapping[str, AblationResults]) -> tuple[str, str]:
    """The default predictor (L.E.) has the lowest MR across benchmarks (replicated); else as
    :func:`default_is_best`. MR as in the paper's Table 5: each predictor's rank of Δm on every
    benchmark, averaged over benchmarks (:func:`autoscale.book.paper_comparison.mean_rank`)."""
    ranks = mean_rank({b: res.table()["Δm"] for b, res in ablation.items()})
    evidence, per_benchmark = default_is_best(ablation)
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
    return "; ".join(parts), combine_outcomes(outcomes)


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
            "paired Δm differences: replicated on a benchmark where AutoScale is resolved lower than more than half "
            "of the MTOs and resolved higher than none; not replicated where resolved higher than half or more"
        ),
        "near_searched": (
            "close when the paired Δm difference to the searched weights is not resolved above 0, or AutoScale is "
            "better than 75% of the sweep's weight sets"
        ),
        "step_time": (
            "replicated if AutoScale is cheaper than every gradient-manipulating MTO and both ratios fall in the "
            "paper's ranges (Table 7, lowest to highest over its three datasets); partly if only the ordering holds"
        ),
        "alpha": (
            f"replicated if α = {alpha.default:g} is not resolved behind the best α (paired) and is cheaper than "
            f"α = {longer}"
        ),
        "explore": (
            f"replicated if {explore.label(explore.default)} is the best exploration method or not resolved behind "
            "it (paired) on every benchmark"
        ),
        "cost": (
            f"replicated if {cost.label(cost.default)} has the lowest Δm on every benchmark and is resolved below "
            "the runner-up (paired); inconclusive where the interval to the best or to the runner-up holds 0"
        ),
        "predictor": (
            f"replicated if {predictor.label(predictor.default)} has the lowest MR (mean rank of Δm, Table 5) "
            "across benchmarks and is resolved best on some; inconclusive where every interval holds 0"
        ),
        "trajectories": (
            "replicated if, after the switch, AutoScale beats the median LS weight set on all four signature "
            "metrics on every benchmark"
        ),
    }


WHY = _why()
# Claims judged on the main results, and on the ablations.
MAIN_CLAIMS = ("signature", "uninformative", "beats_mtos", "near_searched", "trajectories")
MORE_SEEDS = "more seeds (the interval's half-width is t·s/√n: 2.5 s at 3 seeds, 0.7 s at 10)"


def what_would_change(
    claim_id: str, verdict: str, main: Mapping[str, MainResults], ablations: Mapping[str, AblationResults]
) -> str:
    """A short line on the evidence that could move this verdict, where the evidence is thin: the
    benchmarks judged on the small cpu runs only, the benchmarks an ablation did not run on, and
    more seeds where intervals hold 0."""
    if claim_id == "step_time":
        return ""
    changes = []
    if claim_id in MAIN_CLAIMS:
        small = [b for b, res in main.items() if res.plan.profile in ("smoke", "cpu")]
        if small:
            changes.append("the full-profile runs of " + ", ".join(small) + " (GPU session, tier 2)")
    else:
        missing = [b for b in main if b not in ablations]
        if missing:
            changes.append("this ablation on " + ", ".join(missing) + " (full profile, GPU session tier 3)")
    if verdict in (INCONCLUSIVE, PARTLY) and claim_id not in ("signature", "uninformative", "trajectories"):
        changes.append(MORE_SEEDS)
    return "; ".join(changes)


def verdict_table(
    main: Mapping[str, MainResults],
    ablations: Mapping[str, Mapping[str, AblationResults]],
    correlations: pd.DataFrame,
    bench: Mapping[str, Any] | None,
) -> pd.DataFrame:
    """One row per claim of the reference file, in its order: the claim with its place in the paper,
    the paper's numbers (:func:`paper_column`), our evidence, which runs it read per benchmark
    (:func:`evidence_label`), the verdict, its rule, and what would change it (:func:`what_would_change`)."""
    claims = load_paper_claims()
    evidence: dict[str, Callable[[], tuple[str, str]]] = {
        "signature": lambda: signature_verdict(correlations, uninformative=False),
        "uninformative": lambda: signature_verdict(correlations, uninformative=True),
        "beats_mtos": lambda: beats_mtos(main),
        "near_searched": lambda: near_searched(main),
        "step_time": lambda: step_time(bench, main) if bench else ("no benchmark file", INCONCLUSIVE),
        "alpha": lambda: alpha_verdict(ablations["alpha"]),
        "explore": lambda: default_among_best(ablations["explore"]),
        "cost": lambda: default_is_best(ablations["cost"]),
        "predictor": lambda: predictor_verdict(ablations["predictor"]),
        "trajectories": lambda: trajectories(main),
    }
    main_sources = "; ".join(f"{b}: {evidence_label(res.records())}" for b, res in main.items())
    rows = []
    for claim in claims["claims"]:
        cid = claim["id"]
        per = ablations.get(cid, {})
        if cid in ABLATIONS:
            sources = "; ".join(f"{b}: {evidence_label(res.records())}" for b, res in per.items()) or "none"
        else:
            sources = f"step-time benchmark on {bench['device']}" if cid == "step_time" and bench else main_sources
        if cid in ABLATIONS and not per:
            text, verdict = "not run at this profile", INCONCLUSIVE
        else:
            text, verdict = evidence[cid]()
        rows.append(_row(claims, cid, text, verdict, WHY[cid], what_would_change(cid, verdict, main, per), sources))
    return pd.DataFrame(rows)
