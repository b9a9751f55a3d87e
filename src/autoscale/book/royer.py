"""Verdicts on the claims of Royer et al., "Scalarization for Multi-Task and Multi-Domain Learning
at Scale" (NeurIPS 2023), from the book's main tables and its capacity study; the labels and the
paired statistics are those of the verdict on the AutoScale paper (:mod:`autoscale.book.verdict`).

Each rule judges every benchmark where the evidence exists and combines them as the AutoScale verdict
does (:func:`autoscale.book.verdict.combine_outcomes`): *replicated* when the claim holds on every
benchmark, *not replicated* when it holds on none and fails on some, *inconclusive* when nothing is
resolved anywhere, *partly* otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from autoscale.book.capacity import CapacityStudy, conflict_table, width_label
from autoscale.book.paired import paired_difference
from autoscale.book.results import MainResults
from autoscale.book.verdict import INCONCLUSIVE, NOT, PARTLY, REPLICATED, Claim, Evidence, combine_outcomes

# "Barely changes": the largest change of a layer's mean conflict share, across widths or across
# weight sets, stays within this (shares lie in [0, 1]).
BARELY = 0.1
NOT_MTO = ("unitary", "searched", "random", "autoscale")


def _outcome(holds: bool | None) -> str:
    """True: holds on that benchmark; False: the opposite is resolved; None: nothing resolved."""
    return {True: REPLICATED, False: NOT, None: INCONCLUSIVE}[holds]


def tuned_ls_verdict(main: Mapping[str, MainResults]) -> tuple[str, str]:
    """Claim 1: tuned scalarization matches or beats the MTO methods. Per benchmark, the searched
    weights' row (the random search where run, else the grid) against each MTO, Δm paired over seeds:
    it holds where no MTO is resolved better."""
    parts, outcomes = [], []
    for b, res in main.items():
        tuned = res.searched_row
        mtos = [m for m in res.groups() if m not in NOT_MTO]
        diffs = {m: res.paired(tuned, m) for m in mtos}
        worse = [m for m, d in diffs.items() if d.sign == 1]
        better = [m for m, d in diffs.items() if d.sign == -1]
        outcomes.append(_outcome(not worse if any(d.sign is not None for d in diffs.values()) else None))
        parts.append(
            f"{b}: tuned LS resolved better than {len(better)}/{len(mtos)} MTOs, worse than {len(worse)}"
            + (f" ({', '.join(worse)})" if worse else "")
        )
    return "; ".join(parts), combine_outcomes(outcomes)


def capacity_gain_verdict(studies: Mapping[str, CapacityStudy]) -> tuple[str, str]:
    """Claim 2: larger models gain more from joint training. Per benchmark, Δm of the grid's choice
    (chosen on validation at each width) at the largest width minus at the smallest, paired over
    seeds: it holds where the difference is resolved below 0."""
    parts, outcomes = [], []
    for b, study in studies.items():
        small, large = min(study.sweeps), max(study.sweeps)
        d = paired_difference(study.grid_choice(large)[1], study.grid_choice(small)[1])
        outcomes.append(_outcome(None if d.sign in (None, 0) else d.sign == -1))
        parts.append(f"{b}: Δm {width_label(large)} − {width_label(small)} {d.text()}")
    return "; ".join(parts), combine_outcomes(outcomes)


def ranking_verdict(studies: Mapping[str, CapacityStudy]) -> tuple[str, str]:
    """Claim 3: the ranking of weight sets is stable across capacity. Per benchmark, Kendall's τ
    between the smallest and the largest width: it holds where the bootstrap interval lies above 0."""
    parts, outcomes = [], []
    for b, study in studies.items():
        table = study.kendall_table()
        small, large = width_label(min(study.sweeps)), width_label(max(study.sweeps))
        row = table.loc[f"{small} vs {large}"]
        ceiling = table.loc[table.index.str.contains("seed vs seed"), "τ"]
        resolved = row["low"] > 0 or row["high"] < 0
        outcomes.append(_outcome(None if not resolved else bool(row["low"] > 0)))
        parts.append(
            f"{b}: τ({small}, {large}) {row['τ']:+.2f} [{row['low']:+.2f}, {row['high']:+.2f}]; "
            f"seed vs seed {ceiling.min():+.2f} to {ceiling.max():+.2f}"
        )
    return "; ".join(parts), combine_outcomes(outcomes)


def conflict_verdict(studies: Mapping[str, CapacityStudy]) -> tuple[str, str]:
    """Claim 4: gradient conflict is weakly linked to performance and barely changes with capacity
    or weights. Per benchmark: weakly linked where most (width, layer) intervals of ρ(Δm, conflict)
    hold 0; barely changing where no layer's mean conflict moves more than BARELY = 0.1 across
    widths or across weight sets. It holds where both do, partly where one does."""
    parts, outcomes = [], []
    for b, study in studies.items():
        table = conflict_table(study)
        if table.empty:
            outcomes.append(INCONCLUSIVE)
            parts.append(f"{b}: no conflict logged")
            continue
        # Not resolved: the interval holds 0, or ρ is undefined (a conflict share constant over runs).
        unrelated = float((~((table["ρ low"] > 0) | (table["ρ high"] < 0))).mean())
        across_widths = float(table.groupby(level="layer")["conflict share"].agg(lambda s: s.max() - s.min()).max())
        across_sets = float(table["spread over weight sets"].max())
        weak = unrelated >= 0.5
        barely = max(across_widths, across_sets) <= BARELY
        outcomes.append(REPLICATED if weak and barely else (PARTLY if weak or barely else NOT))
        parts.append(
            f"{b}: ρ(Δm, conflict) holds 0 in {unrelated:.0%} of (width, layer) pairs; conflict moves up to "
            f"{across_widths:.2f} across widths and {across_sets:.2f} across weight sets"
        )
    return "; ".join(parts), combine_outcomes(outcomes)


def _rule(judge: Callable) -> str:
    """A judge's rule: its docstring after the first sentence, on one line."""
    return " ".join(judge.__doc__.split(". ", 1)[1].split())


_WHERE = "Royer et al. 2023"
ROYER_CLAIMS = (
    Claim("royer_tuned", _WHERE, "Tuned scalarization matches or beats the MTO methods", _rule(tuned_ls_verdict),
          lambda e: tuned_ls_verdict(e.main), "main", chapters=("main_results", "weight_search"), in_paper=False),
    Claim("royer_capacity", _WHERE, "Larger models gain more from joint training", _rule(capacity_gain_verdict),
          lambda e: capacity_gain_verdict(e.capacity), "capacity", chapters=("capacity",), in_paper=False),
    Claim("royer_ranking", _WHERE, "The ranking of weight sets is stable across model capacity",
          _rule(ranking_verdict), lambda e: ranking_verdict(e.capacity), "capacity", chapters=("capacity",),
          in_paper=False),
    Claim("royer_conflict", _WHERE,
          "Gradient conflict is weakly linked to performance and barely changes with capacity or weights",
          _rule(conflict_verdict), lambda e: conflict_verdict(e.capacity), "capacity", chapters=("capacity",),
          in_paper=False),
)  # fmt: skip


def royer_verdict_table(main: Mapping[str, MainResults], studies: Mapping[str, CapacityStudy]) -> pd.DataFrame:
    """One row per claim of Royer et al.: our evidence, the verdict and the rule behind it."""
    evidence = Evidence(main, capacity=studies)
    rows = []
    for claim in ROYER_CLAIMS:
        text, verdict = claim.judge(evidence)
        rows.append({"claim": claim.text, "our evidence": text, "verdict": verdict, "rule": claim.rule})
    return pd.DataFrame(rows)
