"""The verdict on each claim of the paper: the claim, the paper's own figures behind it (computed
from its transcribed Tables 1-5 and 7, :mod:`autoscale.book.paper_comparison`), our evidence computed
from run records, replicated / partly / not replicated / inconclusive with the rule, the smallest
difference the evidence could resolve, and what would change the verdict.

Each claim is one :class:`Claim` object, declared once in :data:`CLAIMS` with everything the book
says about it: where the paper makes it, its text and the paper's note, the rule and the function
that applies it, the paper's numbers, what evidence it reads and the chapters whose figures show that
evidence. The table, the rules column and the notebooks derive from it.

Every "A vs B" judgement is paired over seeds (:mod:`autoscale.book.paired`): the per-seed
difference of test Δm with its 95% t interval over seeds. A difference is *resolved* when the
interval excludes 0; with one seed there is no interval and nothing is resolved. Each benchmark is
judged on the strongest evidence the caller passes (e.g. the committed ``full`` GPU runs where they
are complete), and each row names it (:func:`evidence_label`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from autoscale.book import paper_comparison
from autoscale.book.capacity import CapacityStudy
from autoscale.book.paired import PairedDifference
from autoscale.book.paper_comparison import mean_rank, our_step_ratios, paper_step_ranges
from autoscale.book.power import paired_sd, resolvable_difference
from autoscale.book.provenance import provenance, unique_runs
from autoscale.book.results import AblationResults, MainResults, delta_m_by_seed, signature_table
from autoscale.book.window_study import WindowStudy, switch_off_share
from autoscale.experiments.plans import ABLATIONS, EXTRA_METHODS, GRADIENT_METHODS
from autoscale.experiments.run_record import RunRecord

REPLICATED, PARTLY, NOT, INCONCLUSIVE = "replicated", "partly", "not replicated", "inconclusive"
# The longer explorations the default α is compared with (the paper's Fig. 6: "a fraction of its cost").
LONG_ALPHAS = (0.5, 1.0)


def paper_source() -> dict[str, str]:
    """The cited reference file: the paper, its URL and where its tables come from (``tables_note``)."""
    return json.loads(resources.files("autoscale.book").joinpath("reference/paper_source.json").read_text())


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


# -- beyond the paper: how long the exploration must be --------------------------------------


def keeps_every_task(windows: Mapping[str, WindowStudy]) -> tuple[str, str]:
    """Per benchmark, whether AutoScale's default exploration keeps every task (no ŵ of the main
    table's runs is 0 for a task): replicated where no seed switches a task off, not replicated where
    one does. The evidence also gives, from the α = 1 runs, the exploration length from which L.E.
    switches no task off on any seed (window-count chapter)."""
    parts, outcomes = [], []
    for b, study in windows.items():
        default = study.by_tau[study.default_tau]
        off = sum(min(r.autoscale.final_weights) <= 0 for r in default)
        share = switch_off_share(study.prefixes())["L.E."]
        tau, counts = study.default_tau, share.index
        switching = counts[share.to_numpy() > 0]
        if not len(switching):
            longer = f"L.E. keeps every task at every exploration length of the α = 1 runs ({counts.min()} window on)"
        elif switching.max() == counts.max():
            longer = f"L.E. still switches a task off after all {counts.max()} windows of the α = 1 runs"
        else:
            first = int(switching.max()) + 1
            longer = f"L.E. keeps every task from {first} windows ({first * tau} steps) on, in the α = 1 runs"
        parts.append(
            f"{b}: the default exploration ({study.default_windows()} windows of τ = {tau}) switches a task off "
            f"on {off} of {len(default)} seeds; {longer}"
        )
        outcomes.append(REPLICATED if off == 0 else NOT)
    return "; ".join(parts), combine_outcomes(outcomes)


# -- the claims -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What the claims are judged on: the main results and the ablations per benchmark, the metric
    study's correlations, the step-time benchmark, the window-count study and the capacity study."""

    main: Mapping[str, MainResults]
    ablations: Mapping[str, Mapping[str, AblationResults]] = field(default_factory=dict)
    correlations: pd.DataFrame = field(default_factory=pd.DataFrame)
    bench: Mapping[str, Any] | None = None
    windows: Mapping[str, WindowStudy] = field(default_factory=dict)
    capacity: Mapping[str, CapacityStudy] = field(default_factory=dict)


# What a claim reads; "ablation" claims read the ablation named by the claim's id.
READS = ("metrics", "main", "bench", "ablation", "windows", "capacity")
MORE_SEEDS = "more seeds (the interval's half-width is t·s/√n: 2.5 s at 3 seeds, 0.7 s at 10)"


def _resolution(tables: Mapping[str, Mapping[Any, Mapping[int, float]]]) -> str:
    """Per benchmark, the smallest paired Δm difference its table resolves with 80% power
    (:func:`autoscale.book.power.resolvable_difference`, σ_d pooled over the table's rows)."""
    parts = []
    for b, table in tables.items():
        seeds = max((sorted(by_seed) for by_seed in table.values()), key=len, default=[])
        full = {row: by_seed for row, by_seed in table.items() if sorted(by_seed) == seeds}
        if len(full) < 2 or len(seeds) < 2:
            parts.append(f"{b}: none ({len(seeds)} seed{'s' if len(seeds) != 1 else ''})")
            continue
        sd, _ = paired_sd(full)
        parts.append(f"{b}: {resolvable_difference(sd, len(seeds)):.2f} Δm ({len(seeds)} seeds)")
    return "; ".join(parts)


@dataclass(frozen=True)
class Claim:
    """One claim, declared once: where it is made, what it says, the paper's note on its setup, the
    rule (``rule``, applied by ``judge`` to the :class:`Evidence`), what it reads (:data:`READS`), the
    paper's numbers (computed from its tables, None where it prints none), the book's chapters whose
    figures show our evidence, and ``title``, the claim in a few words. ``paired`` says that the
    verdict rests on Δm differences paired over seeds (then the row gives the smallest difference
    they resolve); ``in_paper`` False marks a finding of this book, beyond the paper."""

    id: str
    where: str
    text: str
    rule: str
    judge: Callable[[Evidence], tuple[str, str]]
    reads: str
    paper_note: str = ""
    paper_numbers: Callable[[], str] | None = None
    chapters: tuple[str, ...] = ()
    paired: bool = False
    in_paper: bool = True
    title: str = ""  # the claim in a few words, for the compact table

    def __post_init__(self) -> None:
        if self.reads not in READS:
            raise ValueError(f"claim {self.id}: reads {self.reads!r}, expected one of {READS}")

    def paper_column(self) -> str:
        """The paper's numbers behind the claim, then its note on the setup."""
        figures = self.paper_numbers() if self.paper_numbers else ""
        note = self.paper_note if self.in_paper else "Not a claim of the paper."
        return f"{figures}. {note}" if figures and note else (figures or note)

    def per_benchmark(self, evidence: Evidence) -> Mapping[str, Any]:
        """The results the claim reads, by benchmark (empty for the metric study and the bench)."""
        return {
            "main": evidence.main,
            "ablation": evidence.ablations.get(self.id, {}),
            "windows": evidence.windows,
            "capacity": evidence.capacity,
        }.get(self.reads, {})

    def sources(self, evidence: Evidence) -> str:
        """Which runs the verdict read, per benchmark (:func:`evidence_label`)."""
        if self.reads == "bench":
            return f"step-time benchmark on {evidence.bench['device']}" if evidence.bench else "none"
        per = self.per_benchmark(evidence) or evidence.main
        return "; ".join(f"{b}: {evidence_label(res.records())}" for b, res in per.items()) or "none"

    def resolution(self, evidence: Evidence) -> str:
        """The smallest paired Δm difference the evidence resolves, for claims judged on paired Δm."""
        if not self.paired:
            return ""
        rows = {b: r.groups() if self.reads == "main" else r.rows for b, r in self.per_benchmark(evidence).items()}
        stl = {b: r.stl for b, r in self.per_benchmark(evidence).items()}
        return _resolution(
            {b: {row: delta_m_by_seed(runs, stl[b]) for row, runs in by_row.items()} for b, by_row in rows.items()}
        )

    def what_would_change(self, verdict: str, evidence: Evidence) -> str:
        """Where the evidence is thin: benchmarks judged on CPU runs only, benchmarks an ablation did
        not run on, and more seeds where intervals hold 0."""
        if self.reads == "bench":
            return ""
        changes = []
        if self.reads in ("main", "metrics"):
            small = [b for b, res in evidence.main.items() if res.plan.profile in ("smoke", "cpu", "cpu-long")]
            if small:
                changes.append(
                    "the full-profile runs of " + ", ".join(small) + " with as many seeds (GPU session, tier 2)"
                )
        else:
            missing = [b for b in evidence.main if b not in self.per_benchmark(evidence)]
            if missing:
                changes.append(f"this study on {', '.join(missing)} (full profile, GPU session tier 3)")
        if verdict in (INCONCLUSIVE, PARTLY) and self.paired:
            changes.append(MORE_SEEDS)
        return "; ".join(changes)

    def row(self, evidence: Evidence) -> dict[str, str]:
        """The claim's row of :func:`verdict_table`."""
        if self.reads in ("ablation", "windows", "capacity") and not self.per_benchmark(evidence):
            text, verdict = "not run at this profile", INCONCLUSIVE
        elif self.reads == "bench" and not evidence.bench:
            text, verdict = "no benchmark file", INCONCLUSIVE
        else:
            text, verdict = self.judge(evidence)
        return {
            "in short": self.title,
            "where": self.where,
            "claim": f"{self.text} ({self.where})",
            "paper's numbers": self.paper_column(),
            "our evidence": text,
            "evidence read": self.sources(evidence),
            "verdict": verdict,
            "why": self.rule,
            "smallest resolvable difference": self.resolution(evidence),
            "what would change this verdict": self.what_would_change(verdict, evidence),
        }


def _ablation_claim(name: str, title: str, where: str, text: str, note: str, rule: str, judge: Callable) -> Claim:
    return Claim(
        name,
        where,
        text,
        rule,
        lambda e: judge(e.ablations[name]),
        "ablation",
        note,
        paper_numbers=(lambda: paper_comparison.ablation_figures(name)) if name != "alpha" else None,
        chapters=("ablations",),
        paired=True,
        title=title,
    )


_ALPHA, _EXPLORE, _COST, _PREDICTOR = (ABLATIONS[name] for name in ("alpha", "explore", "cost", "predictor"))
# The longer explorations the default α is compared with (the paper's Fig. 6: "a fraction of its cost").
_LONGER = " and ".join(f"{a:g}" for a in LONG_ALPHAS)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "signature",
        "Sec. 3.2, Figs. 2-3",
        "Well-performing LS weight sets show high gradient magnitude similarity, a low condition number of the "
        "gradient matrix, and a low spread of relative loss scale and of relative inverse training rate during "
        "training.",
        "replicated where the Spearman interval excludes 0 on the claimed side for every metric and benchmark "
        "(Linear-scalarization sweep chapter)",
        lambda e: signature_verdict(e.correlations, uninformative=False),
        "metrics",
        "Figs. 2-3: 19 weight sets on CityScapes (Figs. 10-13: 16 on NuScenes and on NYUv2), visual trends; no "
        "correlation coefficients printed.",
        chapters=("ls_sweep", "mto_metrics"),
        title="Good weights show the signature metrics",
    ),
    Claim(
        "uninformative",
        "Sec. 3.2, Figs. 2-3",
        "Gradient cosine similarity is unchanged by LS weights; the loss descending rate is uninformative.",
        "replicated where no significant relation is found for every benchmark",
        lambda e: signature_verdict(e.correlations, uninformative=True),
        "metrics",
        "Figs. 2-3, qualitative; no numbers printed.",
        chapters=("ls_sweep",),
        title="Cosine and loss rate are uninformative",
    ),
    Claim(
        "beats_mtos",
        "Tables 1-2",
        "AutoScale beats most MTO methods (lower Δm than most of UW, GradNorm, MGDA, PCGrad, IMTL-G, RLW, "
        "Aligned-MTL, FAMO).",
        "paired Δm differences: replicated on a benchmark where AutoScale is resolved lower than more than half "
        "of the MTOs and resolved higher than none; not replicated where resolved higher than half or more",
        lambda e: beats_mtos(e.main),
        "main",
        "Mean of 3 seeds per row.",
        paper_numbers=paper_comparison.beats_mtos_figures,
        chapters=("main_results",),
        paired=True,
        title="AutoScale beats most MTOs",
    ),
    Claim(
        "near_searched",
        "Tables 1-2",
        "AutoScale comes close to the weights found by a search of 20 LS trials, in one run.",
        "close when the paired Δm difference to the searched weights is not resolved above 0, or AutoScale is "
        "better than 75% of the sweep's weight sets",
        lambda e: near_searched(e.main),
        "main",
        "Searched weights: the best of 20 LS trials, whose training time is 20 times one run (Fig. 5).",
        paper_numbers=paper_comparison.near_searched_figures,
        chapters=("main_results", "weight_search"),
        paired=True,
        title="AutoScale is close to the searched weights",
    ),
    Claim(
        "step_time",
        "Table 7, Fig. 5",
        "AutoScale's step time is a little above that of linear scalarization and well below that of the "
        "gradient-manipulating MTOs (GradNorm, MGDA, PCGrad, IMTL-G, Aligned-MTL).",
        "replicated if AutoScale is cheaper than every gradient-manipulating MTO and both ratios fall in the "
        "paper's ranges (Table 7, lowest to highest over its three datasets); partly if only the ordering holds",
        lambda e: step_time(e.bench, e.main),  # type: ignore[arg-type]
        "bench",
        "Seconds per iteration relative to unitary LS (NuScenes on 8 A100s, the others on one); in the text, the "
        "gradient-manipulating MTOs take about 3x the training time of LS on NuScenes.",
        paper_numbers=paper_comparison.step_time_figures,
        chapters=("runtime",),
        title="AutoScale's step costs little more than LS",
    ),
    _ablation_claim(
        "alpha",
        "A short exploration (α = 0.2) suffices",
        "Fig. 6",
        "A short exploration suffices: the default α = 0.2 performs as well as longer exploration at a fraction "
        "of its cost.",
        "Fig. 6 (Δm and iteration time against α) prints no numbers; default α = 0.2.",
        f"replicated if α = {_ALPHA.default:g} is not resolved behind the best α (paired) and is cheaper than "
        f"α = {_LONGER}",
        alpha_verdict,
    ),
    _ablation_claim(
        "explore",
        "IMTL-G is among the best explorers",
        "Table 3, Fig. 7",
        "IMTL-G (the default) is among the best exploration methods.",
        "CityScapes only; mean of 3 seeds.",
        f"replicated if {_EXPLORE.label(_EXPLORE.default)} is the best exploration method or not resolved behind "
        "it (paired) on every benchmark",
        default_among_best,
    ),
    _ablation_claim(
        "cost",
        "Equal |g| is the best cost",
        "Table 4",
        "Equal gradient magnitude (the default) is the best cost function.",
        "Mean of 3 seeds per cell.",
        f"replicated if {_COST.label(_COST.default)} has the lowest Δm on every benchmark and is resolved below "
        "the runner-up (paired); inconclusive where the interval to the best or to the runner-up holds 0",
        default_is_best,
    ),
    _ablation_claim(
        "predictor",
        "L.E. is the best predictor",
        "Table 5",
        "Linear extrapolation (L.E., the default) is the best predictor by mean rank across benchmarks.",
        "At γ = 0.5; MR = mean rank of Δm over the three datasets, as printed.",
        f"replicated if {_PREDICTOR.label(_PREDICTOR.default)} has the lowest MR (mean rank of Δm, Table 5) "
        "across benchmarks and is resolved best on some; inconclusive where every interval holds 0",
        predictor_verdict,
    ),
    Claim(
        "trajectories",
        "Fig. 8",
        "During AutoScale the MTO metrics show the trends of good weights (high GMS, low condition number, "
        "balanced loss scale and training rates).",
        "replicated if, after the switch, AutoScale beats the median LS weight set on all four signature "
        "metrics on every benchmark",
        lambda e: trajectories(e.main),
        "main",
        "Fig. 8, qualitative; no numbers printed.",
        chapters=("autoscale_walkthrough",),
        title="AutoScale's metrics follow good weights",
    ),
    Claim(
        "keeps_tasks",
        "beyond the paper: window-count chapter",
        "AutoScale's default exploration is long enough: its predicted weights keep every task.",
        "replicated where no seed's ŵ of the default run gives a task weight 0, not replicated where one does; "
        "the evidence adds the exploration length from which L.E. keeps every task on every seed",
        lambda e: keeps_every_task(e.windows),
        "windows",
        chapters=("window_count",),
        in_paper=False,
        title="The default exploration keeps every task",
    ),
)
CLAIMS_BY_ID = {claim.id: claim for claim in CLAIMS}


def verdict_table(evidence: Evidence) -> pd.DataFrame:
    """One row per claim of :data:`CLAIMS`, in its order (:meth:`Claim.row`)."""
    return pd.DataFrame([claim.row(evidence) for claim in CLAIMS])


def compact_verdict(table: pd.DataFrame) -> pd.DataFrame:
    """The answer in one screen: each claim in a few words, where the paper makes it, the verdict
    and the smallest difference the evidence resolves (from :func:`verdict_table`)."""
    return table[["in short", "where", "verdict", "smallest resolvable difference"]].rename(
        columns={"in short": "claim", "where": "paper"}
    )


def claim_sections(table: pd.DataFrame) -> str:
    """The verdict chapter's body in Markdown: one short section per claim (its few-word title and
    verdict, where the paper makes it, the claim, the paper's numbers, our evidence, the rule, the
    smallest resolvable difference, what would change the verdict, and links to the chapters whose
    tables and figures decide it), in :data:`CLAIMS` order; ``table`` is :func:`verdict_table`'s."""
    sections = []
    for claim, (_, row) in zip(CLAIMS, table.iterrows(), strict=True):
        paper = row["paper's numbers"] or "none printed"
        links = ", ".join(f"[{c.replace('_', ' ')}]({c}.html)" for c in claim.chapters)
        lines = [
            f"### {row['in short']}: {row['verdict']}",
            "",
            f"*{row['where']}.* {claim.text}",
            "",
            f"- **The paper's numbers.** {paper}",
            f"- **Our evidence.** {row['our evidence']}",
            f"- **Rule.** {row['why']}",
        ]
        if row["smallest resolvable difference"]:
            lines.append(f"- **Smallest resolvable difference.** {row['smallest resolvable difference']}")
        if row["what would change this verdict"]:
            lines.append(f"- **What would change this verdict.** {row['what would change this verdict']}")
        lines.append(f"- **Runs read.** {row['evidence read']}")
        if links:
            lines.append(f"- **The tables and figures that decide it.** {links}")
        sections.append("\n".join(lines))
    return "\n\n".join(sections)
