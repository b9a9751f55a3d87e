"""The paper's result experiments (Tables 1-5, Figs. 4-8): which runs each table needs, and the
tables built from their records.

- Main results (Tables 1, 2): the baselines the paper compares (``MAIN_METHODS``), unitary LS,
  the searched LS weights (the weight set of the LS sweep with the best Δm on the *validation*
  split, reported on test) and AutoScale with its defaults; plus the package's other methods
  (``EXTRA_METHODS``) as extra rows marked with a star (:data:`NOT_IN_PAPER`).
- Ablations (Table 3-5, Fig. 6): AutoScale with one option changed at a time (``ABLATIONS``).

Tables are keyed by method id (``"unitary"``, ``"searched"``, ``"autoscale"``, the single-task row
``"stl"``) and ablation rows by the option's value (``0.2``, ``"linear"``); the paper's names
(:data:`METHOD_LABELS`, :meth:`autoscale.experiments.plans.Ablation.label`) are put on the rows
only for display (:func:`display_table`). AutoScale's window τ per profile is
:func:`autoscale.experiments.plans.autoscale_window`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from autoscale.book.paired import PairedDifference, paired_difference
from autoscale.book.study import CLAIM_TEXT, STUDY_METRICS, Sweep, by_weight_set, run_average
from autoscale.evaluate import delta_m, directions, results_table, single_task_baseline
from autoscale.experiments.plans import (
    ABLATION_BENCHMARKS,
    ABLATIONS,
    EXTRA_METHODS,
    MAIN_METHODS,
    TABLE_METHODS,
    Ablation,
    ablation_groups,
    ls_sweep_plan,
    main_groups,
    random_search_groups,
)
from autoscale.experiments.run_record import RunRecord, run_records
from autoscale.experiments.runs import sweep_groups
from autoscale.experiments.selection import choose_on_validation as choose_searched_weights
from autoscale.experiments.store import RunStore
from autoscale.methods import method_info

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

# Every table row's label, in the tables' order: the single-task baseline, each method's declared
# label (``MethodInfo.label``, starred where the paper's tables do not hold it), the searched weights
# before AutoScale.
METHOD_LABELS = {
    "stl": "Single-task",
    **{m: method_info(m).label + ("" if method_info(m).in_paper else "*") for m in TABLE_METHODS[:-1]},
    "searched": "Searched LS weights (grid)",
    "random": "Searched LS weights (20 random trials)",
    "autoscale": method_info("autoscale").label,
}

# The mark of the rows in METHOD_LABELS that are not in the paper's tables (EXTRA_METHODS).
NOT_IN_PAPER = (
    f"Rows marked \\* ({', '.join(method_info(m).label for m in EXTRA_METHODS)}) are not in the paper's "
    "tables: extra rows, left out of every comparison with the paper's numbers."
)


def method_label(method: str) -> str:
    """The paper's name of a method id (:data:`METHOD_LABELS`); other row keys as they are."""
    return METHOD_LABELS.get(method, method)


def merge_single_task(stl_records: Sequence[RunRecord], split: str = "test") -> list[dict[str, float]]:
    """Per seed, every task's primary metric from its single-task run (one dict per seed)."""
    by_seed: dict[int, dict[str, float]] = {}
    for record in stl_records:
        by_seed.setdefault(record.seed, {}).update(record.metrics(split))
    return [by_seed[s] for s in sorted(by_seed)]


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
    ``table.attrs["higher_is_better"]`` keeps each task's direction, for :func:`display_table`'s marks.
    """
    baseline = single_task_baseline(r.data for r in stl_records)
    table = results_table({key: [r.data for r in runs] for key, runs in groups.items()}, baseline)
    table["step time ×LS"] = (
        table["step time (ms)"] / table.loc[reference, "step time (ms)"] if reference in table.index else np.nan
    )
    table["train time (s)"] = [float(np.mean([r.train_step_seconds for r in groups[key]])) for key in table.index]
    higher = directions(r.data for runs in groups.values() for r in runs)
    if not single_task_row:
        table.index.name = "setting"
        table.attrs["higher_is_better"] = higher
        return table
    stl = merge_single_task(stl_records)
    stl_row: dict[str, Any] = {"seeds": len(stl), "MR": np.nan, "Δm": 0.0, "Δm std": np.nan, "Δm_pos": 0.0}
    for task in baseline:
        stl_row[task] = float(np.mean([s[task] for s in stl]))
        stl_row[f"{task} std"] = float(np.std([s[task] for s in stl]))
    table = pd.concat([pd.DataFrame([stl_row], index=["stl"]), table])
    table.index.name = "method"
    table.attrs["higher_is_better"] = higher
    return table


#: The paper's marks of the best, second and third value of a result column, as CSS.
MARK_CSS = {1: "font-weight: bold", 2: "text-decoration: underline", 3: "font-style: italic"}
#: The HTML class of a marked table (the book's CSS keeps its "mean ± std" cells on one line).
MARK_CLASS = "marked-table"
MARK_LEGEND = "Per result column, among the multi-task rows: <b>best</b>, <u>second</u>, <i>third</i>."


def rank_marks(values: pd.DataFrame, higher_is_better: Mapping[str, bool], exclude: Sequence[Any] = ()) -> pd.DataFrame:
    """Each cell's place in its column (1 best, 2 second, 3 third, 0 unmarked), for the columns of
    ``higher_is_better`` in their direction, among the rows not in ``exclude`` (the single-task
    baseline is not a contender).

    Tied values share the better place and the places they fill are skipped (1, 1, 3): a place is
    one more than the number of rows strictly better, so a mark never claims more than the numbers
    show. NaN is never marked.
    """
    contenders = ~values.index.isin(list(exclude))
    marks = pd.DataFrame(0, index=values.index, columns=list(higher_is_better))
    for column, higher in higher_is_better.items():
        places = values.loc[contenders, column].rank(method="min", ascending=not higher)
        marks.loc[contenders, column] = places.where(places <= len(MARK_CSS), 0).astype(int)
    return marks


class MarkedTable(pd.DataFrame):
    """A display table (strings) that carries the places of :func:`rank_marks` (``marks``, same row
    labels) and shows them in HTML, as the paper prints them (:data:`MARK_CSS`), with a legend.

    A DataFrame rather than a Styler, so that callers still add or drop columns and call
    ``.style.format(...)``; the marks follow through those operations (pandas ``_metadata``).
    """

    _metadata: ClassVar[list[str]] = ["marks"]  # what pandas copies to the results of operations
    marks: pd.DataFrame | None = None

    @property
    def _constructor(self) -> type[MarkedTable]:
        return MarkedTable

    @property
    def style(self) -> Styler:
        """The Styler of the table with its marks and legend."""
        styler = super().style
        marks = self.marks
        if marks is None:  # a table pandas built from several (concat) keeps no marks
            return styler

        def css(data: pd.DataFrame) -> pd.DataFrame:
            out = pd.DataFrame("", index=data.index, columns=data.columns)
            for column in marks.columns.intersection(data.columns):
                out[column] = marks[column].reindex(data.index).map(lambda place: MARK_CSS.get(place, ""))
            return out

        return styler.apply(css, axis=None).set_caption(MARK_LEGEND).set_table_attributes(f'class="{MARK_CLASS}"')

    def _repr_html_(self) -> str:
        return self.style.to_html()


def display_table(
    table: pd.DataFrame, tasks: Sequence[str], precision: int = 2, label: Callable[[Any], str] = method_label
) -> MarkedTable:
    """The table as a paper prints it: 'mean ± std over seeds' (std only with two seeds or more),
    rows named by ``label`` (the paper's method names by default), and the best, second and third
    multi-task row of each result column marked (:func:`rank_marks` on the values as printed: each
    task in its direction, from ``table.attrs["higher_is_better"]`` set by :func:`main_table`;
    Δm, Δm_pos and MR lower is better). Times and seeds are not ranked."""
    higher = table.attrs["higher_is_better"]
    out = pd.DataFrame(index=table.index)
    printed = pd.DataFrame(index=table.index)
    several = table["seeds"].to_numpy() > 1
    for column in [*tasks, "Δm"]:
        digits = precision if column == "Δm" else max(precision, _digits(table[column]))
        out[column] = [
            f"{m:.{digits}f}" + (f" ± {s:.{digits}f}" if many and np.isfinite(s) else "")
            for m, s, many in zip(table[column], table[f"{column} std"], several, strict=True)
        ]
        printed[column] = _as_printed(table[column], digits)
    out["Δm_pos"] = table["Δm_pos"].map(lambda v: f"{v:.{precision}f}")
    out["MR"] = table["MR"].map(lambda v: "–" if not np.isfinite(v) else f"{v:.2f}")
    printed["Δm_pos"] = _as_printed(table["Δm_pos"], precision)
    printed["MR"] = _as_printed(table["MR"], 2)
    if "step time ×LS" in table:
        out["step time ×LS"] = table["step time ×LS"].map(lambda v: "–" if not np.isfinite(v) else f"{v:.2f}")
    out["seeds"] = table["seeds"].astype(int)
    directions_shown = {**{t: higher[t] for t in tasks}, "Δm": False, "Δm_pos": False, "MR": False}
    marks = rank_marks(printed, directions_shown, exclude=["stl"])
    labels = pd.Index([label(key) for key in table.index], name=table.index.name)
    out.index = marks.index = labels
    view = MarkedTable(out)
    view.marks = marks
    return view


def _as_printed(values: pd.Series, digits: int) -> pd.Series:
    """The values as the table prints them (rounded to ``digits`` decimals by the same format), so
    that two rows that read the same rank the same."""
    return values.map(lambda v: float(f"{v:.{digits}f}"))


def _digits(values: pd.Series) -> int:
    """Decimals that show three significant digits of the column's typical magnitude."""
    finite = np.abs(values[np.isfinite(values)])
    scale = float(np.median(finite)) if len(finite) else 1.0
    return int(np.clip(2 - np.floor(np.log10(scale)) if scale > 0 else 2, 0, 5))


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


def delta_m_by_seed(records: Sequence[RunRecord], stl_records: Sequence[RunRecord]) -> dict[int, float]:
    """Test Δm of each run against the single-task baseline (mean over its seeds), keyed by seed."""
    baseline = single_task_baseline(r.data for r in stl_records)
    higher = directions(r.data for r in stl_records)
    by_seed = {r.seed: delta_m(r.metrics(), baseline, higher) for r in records}
    if len(by_seed) != len(records):
        raise ValueError(f"two runs of one row share a seed: seeds {[r.seed for r in records]}")
    return by_seed


@dataclass
class MainResults(Sweep):
    """Everything one benchmark's main table needs: the LS sweep (for the searched weights and the
    single-task baseline) and the trained methods by id, each over seeds."""

    methods: dict[str, list[RunRecord]]
    # The paper's search (best of 20 random trials, autoscale.experiments.plans.random_search_groups):
    # the trials on the first seed and the chosen weights' runs on the other seeds; empty if not run.
    random_trials: list[RunRecord] = field(default_factory=list)
    random_chosen: list[RunRecord] = field(default_factory=list)

    @cached_property
    def selection(self) -> tuple[list[float], pd.DataFrame]:
        """The searched weights of the grid (chosen on validation) and the selection table (computed
        once: ``groups``, ``table`` and the verdict all ask for it)."""
        return choose_searched_weights(self.ls, self.stl)

    @cached_property
    def random_selection(self) -> tuple[list[float], pd.DataFrame] | None:
        """The random search's chosen weights and its selection table (None if not run)."""
        return choose_searched_weights(self.random_trials, self.stl) if self.random_trials else None

    @property
    def searched_row(self) -> str:
        """The row that stands for the paper's searched weights: the random search where it was run."""
        return "random" if self.random_trials else "searched"

    def groups(self) -> dict[str, list[RunRecord]]:
        """Rows by method id in the paper's order: MTO baselines, unitary, searched weights (grid,
        then the 20 random trials where run), AutoScale."""
        weights, _ = self.selection
        rows = {m: self.methods[m] for m in self.methods if m != "autoscale"}
        rows["searched"] = searched_records(self.ls, weights)
        if self.random_selection is not None:
            chosen = self.random_selection[0]
            rows["random"] = [*searched_records(self.random_trials, chosen), *self.random_chosen]
        if "autoscale" in self.methods:
            rows["autoscale"] = self.methods["autoscale"]
        return rows

    def table(self) -> pd.DataFrame:
        """:func:`main_table` of :meth:`groups`."""
        return main_table(self.groups(), self.stl)

    def records(self) -> list[RunRecord]:
        return [
            *self.ls,
            *self.stl,
            *(r for runs in self.methods.values() for r in runs),
            *self.random_trials,
            *self.random_chosen,
        ]

    def paired(self, a: str, b: str) -> PairedDifference:
        """Δm(row a) - Δm(row b) paired over seeds (rows as :meth:`groups`; negative: a is better)."""
        rows = self.groups()
        return paired_difference(delta_m_by_seed(rows[a], self.stl), delta_m_by_seed(rows[b], self.stl))

    def paired_table(self, row: str = "autoscale") -> pd.DataFrame:
        """``row`` against every other multi-task row: the paired Δm difference, its interval and
        its sign (-1: ``row`` better beyond the interval, +1 worse, 0 unresolved)."""
        out = []
        for other in self.groups():
            if other != row:
                d = self.paired(row, other)
                out.append(
                    {
                        "against": other,
                        "Δm difference": d.mean,
                        "low": d.low,
                        "high": d.high,
                        "seeds": d.n,
                        "sign": d.sign,
                    }
                )
        return pd.DataFrame(out).set_index("against")


def run_main_results(
    benchmarks: Sequence[str],
    profile: str,
    device: str = "cpu",
    store: RunStore | None = None,
    force: bool = False,
    methods: Sequence[str] = TABLE_METHODS,
) -> dict[str, MainResults]:
    """Train (or read from the store) every run of the main tables, all benchmarks in one batch."""
    plans = {b: ls_sweep_plan(b, profile, device=device) for b in benchmarks}
    records = sweep_groups(main_groups(benchmarks, profile, device, methods), store, force=force, desc="main results")
    # The random search in two batches: the trials, then the chosen weights on the other seeds.
    trials = sweep_groups(
        {b: random_search_groups(b, profile, device, store)["trials"] for b in benchmarks},
        store,
        force=force,
        desc="random search",
    )
    chosen = sweep_groups(
        {b: random_search_groups(b, profile, device, store)["chosen"] for b in benchmarks},
        store,
        force=force,
        desc="random search: chosen weights",
    )
    return {
        b: MainResults(
            plan,
            run_records(records[b, "ls"]),
            run_records(records[b, "stl"]),
            {m: run_records(records[b, m]) for m in methods},
            run_records(trials[b]),
            run_records(chosen[b]),
        )
        for b, plan in plans.items()
    }


def stored_main_results(
    benchmark: str, profile: str, device: str, store: RunStore | None = None, methods: Sequence[str] = MAIN_METHODS
) -> MainResults | None:
    """One benchmark's main results at ``profile`` from the store alone (nothing is trained), or
    None unless every run is there: lets a page built at one profile read another's committed runs."""
    store = store or RunStore()
    records = {}
    for key, configs in main_groups([benchmark], profile, device, methods).items():
        loaded = [store.load(c) for c in configs]
        if any(r is None for r in loaded):
            return None
        records[key[1]] = run_records(loaded)  # type: ignore[arg-type]
    plan = ls_sweep_plan(benchmark, profile, device=device)
    random = random_search_groups(benchmark, profile, device, store)
    searched = {k: [store.load(c) for c in random.get(k, [])] for k in ("trials", "chosen")}
    complete = "chosen" in random and all(r is not None for runs in searched.values() for r in runs)
    return MainResults(
        plan,
        records["ls"],
        records["stl"],
        {m: records[m] for m in methods},
        run_records(searched["trials"]) if complete else [],  # type: ignore[arg-type]
        run_records(searched["chosen"]) if complete else [],  # type: ignore[arg-type]
    )


def stronger_main_results(own: MainResults, other: MainResults | None) -> MainResults:
    """``other`` (the committed `full` GPU runs, say) where it is complete with at least ``own``'s
    seeds, else ``own``: longer training is the stronger evidence only at an equal seed count, since
    the seeds decide the smallest difference a table resolves."""
    if other is None or len(other.plan.seeds) < len(own.plan.seeds):
        return own
    return other


def predicted_weights_table(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """AutoScale's predicted weights ŵ per seed (one column per task; they sum to K), with the tasks
    whose weight the prediction clipped to 0: linear scalarization never trains those again. A run
    that ended before its switch has no ŵ (nan)."""
    rows = []
    for r in sorted(runs, key=lambda r: r.seed):
        weights = r.autoscale.final_weights
        if weights is None:
            rows.append({"seed": r.seed, **dict.fromkeys(r.task_names, np.nan), "switched off": "no switch"})
            continue
        row = {"seed": r.seed, **dict(zip(r.task_names, weights, strict=True))}
        row["switched off"] = ", ".join(t for t, w in zip(r.task_names, weights, strict=True) if w <= 0) or "–"
        rows.append(row)
    return pd.DataFrame(rows).set_index("seed")


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
        view["Δm − default, paired"] = [
            "" if value == self.default else self.paired(value, self.default).text() for value in table.index
        ]
        return view.drop(columns=["step time ×LS"])

    def records(self) -> list[RunRecord]:
        return [*self.stl, *(r for runs in self.rows.values() for r in runs)]

    def paired(self, a: Any, b: Any) -> PairedDifference:
        """Δm(value a) - Δm(value b) paired over seeds (negative: a is better)."""
        return paired_difference(delta_m_by_seed(self.rows[a], self.stl), delta_m_by_seed(self.rows[b], self.stl))


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
