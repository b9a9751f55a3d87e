"""Result tables and plans: AutoScale options per profile, the searched-weight choice (validation
only), the Table 1/2 form, signature shares, predictor curves and the verdict rules, on
hand-built run records whose answers are known."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from helpers import record

from autoscale.book.plots.results import predictor_curves
from autoscale.book.results import (
    AblationResults,
    MainResults,
    choose_searched_weights,
    display_table,
    main_table,
    merge_single_task,
    signature_table,
)
from autoscale.book.study import run_average
from autoscale.book.verdict import (
    CLAIMS,
    CLAIMS_BY_ID,
    INCONCLUSIVE,
    NOT,
    PARTLY,
    REPLICATED,
    Evidence,
    alpha_verdict,
    beats_mtos,
    combine_outcomes,
    default_is_best,
    near_searched,
)
from autoscale.experiments.plans import (
    ABLATIONS,
    SweepPlan,
    ablation_configs,
    autoscale_options,
    autoscale_window,
    ls_sweep_plan,
    main_configs,
    random_search_groups,
    random_weight_sets,
    window_study_configs,
)
from autoscale.experiments.run_record import AutoScaleTrace
from autoscale.experiments.store import RunStore, config_hash


def stl_records(a=50.0, b=2.0, seeds=(0,)):
    return [record("unitary", s, test={"a": a}) for s in seeds] + [record("unitary", s, test={"b": b}) for s in seeds]


def test_autoscale_options_leave_defaults_out_so_shared_runs_share_a_hash():
    assert autoscale_options("multimnist", "full") == {}
    assert autoscale_options("multimnist", "cpu") == {"window": 25}
    assert autoscale_options("scenes-street", "cpu", alpha=0.2, cost="equal_loss") == {
        "window": 10,
        "cost": "equal_loss",
    }
    with pytest.raises(ValueError, match="unknown AutoScale option"):
        autoscale_options("multimnist", "cpu", tau=3)
    default = main_configs("multimnist", "cpu", methods=["autoscale"])["autoscale"][0]
    # The paper's defaults (Sec. 4): IMTL-G exploration, Equal |g| cost, L.E. predictor, α = 0.2.
    paper = {"explore": ("imtlg", "IMTL-G"), "cost": ("equal_grad", "Equal |g|"), "predictor": ("linear", "L.E.")}
    paper["alpha"] = (0.2, "0.2")
    for name, (value, label) in paper.items():
        assert ABLATIONS[name].default == value and ABLATIONS[name].label(value) == label
        rows = ablation_configs("multimnist", "cpu", name)
        assert config_hash(rows[value][0]) == config_hash(default)
    alpha_one = ablation_configs("multimnist", "cpu", "alpha")[1.0][0]
    assert alpha_one.method == "imtlg" and alpha_one.method_options == {}


def test_searched_weights_are_chosen_on_validation_never_on_test():
    stl = stl_records()
    ls = [
        # best on validation, worst on test
        record(weights=[1.5, 0.5], val={"a": 60.0, "b": 1.0}, test={"a": 40.0, "b": 3.0}),
        record(weights=[0.5, 1.5], val={"a": 45.0, "b": 2.5}, test={"a": 70.0, "b": 1.0}),
    ]
    weights, table = choose_searched_weights(ls, stl)
    assert weights == [1.5, 0.5]
    assert table["chosen"].tolist() == [True, False]
    # hand: val Δm of (1.5, 0.5) = mean(-(60-50)/50, (1-2)/2) * 100 = mean(-20, -50) = -35
    assert table.loc["(1.50, 0.50)", "val Δm"] == pytest.approx(-35.0)


def test_main_table_form():
    stl = stl_records(seeds=(0, 1))
    groups = {
        "unitary": [
            record("unitary", 0, {"a": 55.0, "b": 2.0}, step_s=0.010),
            record("unitary", 1, {"a": 45.0, "b": 2.0}, step_s=0.010),
        ],
        "imtlg": [
            record("imtlg", 0, {"a": 50.0, "b": 1.0}, step_s=0.018),
            record("imtlg", 1, {"a": 50.0, "b": 3.0}, step_s=0.018),
        ],
    }
    table = main_table(groups, stl)
    assert list(table.index) == ["stl", "unitary", "imtlg"]
    assert table.loc["stl", "Δm"] == 0 and math.isnan(table.loc["stl", "MR"])
    assert table.loc["unitary", "Δm"] == pytest.approx(0.0)  # +10% and -10% on task a
    assert table.loc["imtlg", "step time ×LS"] == pytest.approx(1.8)
    assert table.loc["unitary", "a std"] == pytest.approx(5.0)
    assert table.loc["imtlg", "train time (s)"] == pytest.approx(0.18)
    # MR over the multi-task rows only: a: unitary mean 50 = imtlg 50 (tie); b: both 2.0 -> tie
    assert table.loc["unitary", "MR"] == table.loc["imtlg", "MR"] == 1.5
    # Display only: the paper's names, 'mean ± std' over the two seeds.
    view = display_table(table, ["a", "b"])
    assert list(view.index) == ["Single-task", "Unitary LS", "IMTL-G"]
    assert view.loc["Unitary LS", "a"] == "50.00 ± 5.00" and view.loc["IMTL-G", "Δm"] == "0.00 ± 25.00"
    # Δm_pos counts only losses: unitary loses 10% on a in one seed of two (mean 5).
    assert view.loc["Unitary LS", "Δm_pos"] == "5.00" and view.loc["Unitary LS", "MR"] == "1.50"
    assert view.loc["Single-task", "MR"] == "–" and view.loc["IMTL-G", "step time ×LS"] == "1.80"


def test_merge_single_task():
    merged = merge_single_task(stl_records(a=10.0, b=1.0, seeds=(0, 1)))
    assert merged == [{"a": 10.0, "b": 1.0}, {"a": 10.0, "b": 1.0}]


def test_signature_table_counts_weight_sets_beaten_in_the_claimed_direction():
    def metrics(gms, cond):
        steps = list(range(10))
        return {
            "step": steps,
            "gms": [0.0] * 5 + [gms] * 5,
            "cond": [1.0] * 5 + [cond] * 5,
            "itr_std": [gms] * 10,
            "rls_std": [gms] * 10,
        }

    autoscale = record("autoscale", metrics=metrics(0.6, 100.0), switch=5)
    ls = [
        record(weights=[w, 2 - w], metrics=metrics(g, c))
        for w, g, c in ((0.5, 0.2, 10.0), (1.0, 0.5, 1000.0), (1.5, 0.8, 1e4))
    ]
    table = signature_table([autoscale], ls)
    share = table["share of LS weight sets AutoScale beats"]
    assert share["gradient magnitude similarity"] == pytest.approx(2 / 3)  # higher than 0.2 and 0.5
    assert share["condition number (log10)"] == pytest.approx(2 / 3)  # lower than 1e3 and 1e4
    assert share["std of relative loss scale"] == pytest.approx(1 / 3)  # only 0.8 is higher
    assert table.loc["condition number (log10)", "AutoScale"] == pytest.approx(2.0)
    assert run_average(autoscale, "gms", 0, 5) == 0.0
    assert run_average(autoscale, "gms") == pytest.approx(0.3)  # the whole run: five 0s, five 0.6s
    switched_off = record("autoscale", metrics=metrics(float("nan"), float("inf")), switch=5)
    undefined = signature_table([switched_off], ls)["share of LS weight sets AutoScale beats"]
    assert math.isnan(undefined["gradient magnitude similarity"]) and math.isnan(undefined["condition number (log10)"])


def test_predictor_curves_match_the_method():
    steps = np.array([10.0, 30.0, 50.0])
    ww = np.array([[1.2, 0.8], [1.1, 0.9], [1.0, 1.0]])
    trace = AutoScaleTrace(steps, ww, final_weights=None, switch_step=60, window=20, gamma=0.5)
    curves = predictor_curves(trace, total_steps=300)
    assert np.allclose(curves["avg"][1], ww.mean(axis=0))
    assert np.allclose(curves["last"][1], ww[-1])
    # The windows fall by 0.1 per 20 steps on task 1: the line reaches 1.2 - 0.1 * (150 - 10) / 20 = 0.5
    # at γT = 150, and task 2 mirrors it (1.5); the weights already sum to K = 2.
    assert np.allclose(curves["linear"][1][0], [0.5, 1.5])
    follow = curves["linear_follow"]
    assert np.allclose(follow[1][-1], [0.5, 1.5])  # held from γT on
    assert np.allclose(follow[1][0], [0.95, 1.05])  # the line at the switch, step 60


def test_combination_of_per_benchmark_outcomes():
    assert combine_outcomes([REPLICATED, REPLICATED]) == REPLICATED
    assert combine_outcomes([REPLICATED, NOT]) == PARTLY
    assert combine_outcomes([NOT, INCONCLUSIVE]) == NOT
    assert combine_outcomes([INCONCLUSIVE]) == INCONCLUSIVE


def seeded_rows(values, per_value):
    """Ablation rows over seeds 0-2: task a's test metric per seed (Δm = 50 - a against the stl
    baseline of stl_records; task b stays at its baseline)."""
    return {
        value: [record("autoscale", s, test={"a": a, "b": 2.0}) for s, a in enumerate(per_seed)]
        for value, per_seed in zip(values, per_value, strict=True)
    }


def test_default_is_best_is_judged_on_paired_intervals():
    stl = stl_records(seeds=(0, 1, 2))
    values = ABLATIONS["cost"].values  # condition, equal_loss, equal_grad (the default)
    # Δm per seed: Low cond. (-2, -2.1, -1.9), Equal |l| 0, Equal |g| (-1, -1, -1): the default is
    # behind the best by (1, 1.1, 0.9): mean 1, s = 0.1, t(0.975, 2) = 4.3027, half-width 0.248.
    rows = seeded_rows(values, [(52.0, 52.1, 51.9), (50.0, 50.0, 50.0), (51.0, 51.0, 51.0)])
    ablation = {"bench": AblationResults("cost", "bench", rows, stl)}
    evidence, verdict = default_is_best(ablation)
    assert verdict == NOT
    assert evidence == "bench: best Low cond.; default Equal |g| − best +1.00 [+0.75, +1.25] (3 seeds)"
    # The same mean gap with seed-to-seed differences (1, -0.5, 2.5): the interval holds 0.
    rows = seeded_rows(values, [(52.0, 50.5, 53.5), (50.0, 50.0, 50.0), (51.0, 51.0, 51.0)])
    assert default_is_best({"bench": AblationResults("cost", "bench", rows, stl)})[1] == INCONCLUSIVE
    # One seed: no interval, nothing resolved.
    one = {v: runs[:1] for v, runs in rows.items()}
    evidence, verdict = default_is_best({"bench": AblationResults("cost", "bench", one, stl)})
    assert verdict == INCONCLUSIVE and "(1 seed, no interval)" in evidence
    # Default best, the runner-up resolved behind it: replicated.
    rows = seeded_rows(values, [(51.0, 51.1, 50.9), (50.0, 50.0, 50.0), (52.0, 52.0, 52.0)])
    evidence, verdict = default_is_best({"bench": AblationResults("cost", "bench", rows, stl)})
    assert verdict == REPLICATED and "runner-up Low cond. − default +1.00 [+0.75, +1.25]" in evidence


def test_alpha_rows_are_keyed_by_alpha_and_judged_against_the_default():
    stl = stl_records()
    # Δm from task a (baseline 50): α = 0.2 best (-2), α = 0.3 second (-1), the others 0; training time
    # (ten steps of step_s) grows with α.
    a = {0.05: 50.0, 0.1: 50.0, 0.2: 51.0, 0.3: 50.5, 0.5: 50.0, 1.0: 50.0}
    step_s = {0.05: 0.008, 0.1: 0.009, 0.2: 0.01, 0.3: 0.011, 0.5: 0.015, 1.0: 0.02}
    rows = {v: [record("autoscale", test={"a": a[v], "b": 2.0}, step_s=step_s[v])] for v in ABLATIONS["alpha"].values}
    ablation = {"bench": AblationResults("alpha", "bench", rows, stl)}
    evidence, verdict = alpha_verdict(ablation)
    assert verdict == REPLICATED
    assert evidence == "bench: best 0.2; bench: time ×(α=0.2) at α=0.5 1.50, α=1 2.00"
    # Cheaper longer explorations: the claim's cost half fails, its quality half holds.
    rows[1.0] = [record("autoscale", test={"a": 50.0, "b": 2.0}, step_s=0.005)]
    assert alpha_verdict(ablation)[1] == PARTLY


def test_every_claim_is_one_object_with_a_rule_and_its_chapters():
    from autoscale.experiments.plans import CHAPTERS

    assert len(CLAIMS_BY_ID) == len(CLAIMS)
    for claim in CLAIMS:
        assert claim.text and claim.where and len(claim.rule) > 20
        assert 0 < len(claim.title.split()) <= 8  # a few words for the compact table
        assert claim.chapters and set(claim.chapters) <= {*CHAPTERS, "runtime"}
    assert [c.id for c in CLAIMS if not c.in_paper] == ["keeps_tasks"]


def fake_main(autoscale_a, mto_a):
    """Main results on the two-task fake benchmark over seeds 0-2 (Δm = 50 - a, task b at its
    baseline): AutoScale and each MTO from task a per seed, unitary at the baseline, and an LS sweep
    of (1, 1) at the baseline and (1.5, 0.5) at a = 52.5 (chosen on validation)."""
    seeds = (0, 1, 2)
    plan = SweepPlan("bench", "cpu", ["a", "b"], [[1.0, 1.0], [1.5, 0.5]], list(seeds), [], [])
    ls = [record("linear", s, test={"a": 50.0, "b": 2.0}, weights=[1.0, 1.0]) for s in seeds]
    ls += [record("linear", s, test={"a": 52.5, "b": 2.0}, weights=[1.5, 0.5]) for s in seeds]
    methods = {
        m: [record(m, s, test={"a": a, "b": 2.0}) for s, a in zip(seeds, per_seed, strict=True)]
        for m, per_seed in {**mto_a, "unitary": (50.0,) * 3, "autoscale": autoscale_a}.items()
    }
    return {"bench": MainResults(plan, ls, stl_records(seeds=seeds), methods)}


def test_beats_mtos_and_near_searched_are_judged_on_paired_intervals():
    # AutoScale − UW = (-2, -2.1, -1.9) and − MGDA = (-1, -1.1, -0.9): resolved lower; − PCGrad =
    # (1, -1.1, 0.6): the interval holds 0. Lower than 2 of 3, higher than none: replicated.
    mtos = {"uw": (50.0,) * 3, "mgda": (51.0,) * 3, "pcgrad": (53.0, 51.0, 52.5)}
    main = fake_main((52.0, 52.1, 51.9), mtos)
    evidence, verdict = beats_mtos(main)
    assert verdict == REPLICATED
    assert evidence == (
        "bench: AutoScale's Δm lower than 2/3 MTOs on the mean; resolved lower than 2, resolved higher than 0 "
        "(3 paired seeds)"
    )
    # MGDA now resolved better than AutoScale: lower than 1, higher than 1 → partly.
    main = fake_main((52.0, 52.1, 51.9), {**mtos, "mgda": (53.0, 53.1, 52.9)})
    assert beats_mtos(main)[1] == PARTLY
    # Searched = (1.5, 0.5) at Δm -2.5 on every seed; AutoScale − searched = (0.5, 0.4, 0.6): mean 0.5,
    # half-width 4.3027 · 0.1 / √3 = 0.248, resolved above; better than 1 of the 2 weight sets: partly.
    evidence, verdict = near_searched(main)
    assert verdict == PARTLY
    assert evidence == (
        "bench: Δm AutoScale − searched (grid) +0.50 [+0.25, +0.75] (3 seeds), better than 50% of 2 grid weight sets"
    )
    # With the paper's random search run, it is the searched row: trials on seed 0, (0.5, 1.5) best on
    # validation (Δm -3) and trained on seeds 1 and 2; AutoScale − random = (1, 0.9, 1.1).
    grid = main["bench"]
    trials = [
        record("linear", 0, test={"a": 53.0, "b": 2.0}, weights=[0.5, 1.5]),
        record("linear", 0, test={"a": 50.0, "b": 2.0}, weights=[1.0, 1.0]),
    ]
    chosen = [record("linear", s, test={"a": 53.0, "b": 2.0}, weights=[0.5, 1.5]) for s in (1, 2)]
    res = MainResults(grid.plan, grid.ls, grid.stl, grid.methods, trials, chosen)
    main = {"bench": res}
    assert res.searched_row == "random" and len(res.groups()["random"]) == 3
    evidence, verdict = near_searched(main)
    assert verdict == PARTLY
    assert evidence.startswith(
        "bench: Δm AutoScale − searched (20 random trials) +1.00 [+0.75, +1.25] (3 seeds); − grid-searched +0.50"
    )


def test_what_would_change_names_the_thin_evidence():
    evidence = Evidence(fake_main((52.0, 52.1, 51.9), {"uw": (50.0,) * 3}))
    claim = CLAIMS_BY_ID
    assert "full-profile runs of bench" in claim["beats_mtos"].what_would_change(REPLICATED, evidence)
    assert "more seeds" in claim["near_searched"].what_would_change(INCONCLUSIVE, evidence)
    assert "more seeds" not in claim["near_searched"].what_would_change(REPLICATED, evidence)
    assert "more seeds" not in claim["trajectories"].what_would_change(INCONCLUSIVE, evidence)
    assert "this study on bench" in claim["cost"].what_would_change(INCONCLUSIVE, evidence)
    assert claim["step_time"].what_would_change(NOT, evidence) == ""


def test_the_smallest_resolvable_difference_comes_from_the_pooled_paired_spread():
    # Two rows on seeds 0-2 whose differences are (-1, 0, 1): σ_d = 1, and three seeds resolve
    # autoscale.book.power.resolvable_difference(1, 3) with 80% power.
    from autoscale.book.power import resolvable_difference

    evidence = Evidence(fake_main((50.0, 51.0, 52.0), {}))
    res = evidence.main["bench"]
    res.ls[:] = [r for r in res.ls if r.seed == 0]  # one seed of the grid: left out of the pooled table
    text = CLAIMS_BY_ID["beats_mtos"].resolution(evidence)
    assert text.startswith("bench: ") and text.endswith(" Δm (3 seeds)")
    assert CLAIMS_BY_ID["trajectories"].resolution(evidence) == ""
    assert float(text.split()[1]) > resolvable_difference(0.1, 3)


@pytest.mark.parametrize(
    ("profile", "steps"),
    [("cpu", {"multimnist": 790, "scenes-street": 300}), ("full", {"multimnist": 5880, "scenes-street": 5000})],
)
def test_window_study_spans_three_to_fifty_windows_on_three_seeds(profile, steps):
    # T per run: cpu 79 steps x 10 epochs (MultiMNIST), 75 x 4 (street); full 196 x 30 and 250 x 20.
    for benchmark, total in steps.items():
        groups = window_study_configs(benchmark, profile)
        default = autoscale_window(benchmark, profile)
        taus = [key[1] for key in groups if key[0] == "tau"]
        windows = [math.floor(0.2 * total / tau) for tau in (*taus, default)]
        assert min(windows) == 3 and max(windows) >= 50
        assert default not in taus  # the default window is the main table's run
        explore_all = groups["explore_all", default]
        assert [c.method_options.get("alpha") for c in explore_all] == [1.0, 1.0, 1.0]
        assert sorted(c.seed for c in explore_all) == [0, 1, 2]
        assert all(len(configs) == 3 for configs in groups.values())


def test_random_weight_sets_are_seeded_distinct_and_on_the_simplex():
    for k in (2, 3, 4):
        sets = random_weight_sets(k, 20)
        assert len(sets) == 20 and len({tuple(w) for w in sets}) == 20
        assert all(min(w) >= 0 and sum(w) == pytest.approx(k, abs=1e-12) for w in sets)
        assert all(round(v, 2) == v for w in sets for v in w)  # printed exactly as trained
        assert random_weight_sets(k, 20) == sets
    # Uniform on the simplex: each coordinate of K·Dirichlet(1, 1, 1) has mean 1 and P(w_i < 1) = 5/9.
    many = np.array(random_weight_sets(3, 3000))
    assert np.allclose(many.mean(axis=0), 1.0, atol=0.05)
    assert np.allclose((many < 1).mean(axis=0), 5 / 9, atol=0.03)


DIGIT_TASKS = {t: {"primary": "acc", "higher_is_better": {"acc": True}} for t in ("left", "right")}


def stored_record(config, test, val):
    """A record the store accepts for ``config`` (its full config), with the given primary metrics."""
    data = record(config.method, config.seed, test=test, val=val, tasks=DIGIT_TASKS).data
    data["config"] = config.to_dict()
    return data


def test_random_search_chooses_on_validation_once_its_trials_are_in(results_root):
    store = RunStore(results_root)
    groups = random_search_groups("multimnist", "cpu", store=store)
    assert list(groups) == ["trials"] and len(groups["trials"]) == 20
    assert {c.seed for c in groups["trials"]} == {0}
    plan = ls_sweep_plan("multimnist", "cpu")
    # Stored fake trials: validation Δm is lowest for trial 7, test Δm for trial 3 (never looked at).
    for i, config in enumerate(groups["trials"]):
        val = {"left": 90.0 + (5.0 if i == 7 else 0.0), "right": 90.0}
        test = {"left": 90.0 + (5.0 if i == 3 else 0.0), "right": 90.0}
        store.save(stored_record(config, test, val))
    for config in plan.stl_configs:
        store.save(stored_record(config, {t: 90.0 for t in config.tasks}, {t: 90.0 for t in config.tasks}))
    groups = random_search_groups("multimnist", "cpu", store=store)
    chosen = groups["trials"][7].method_options["weights"]
    assert [c.method_options["weights"] for c in groups["chosen"]] == [chosen, chosen]
    assert [c.seed for c in groups["chosen"]] == [1, 2]


def _window_record(seed: int, window_a: list[float], final: list[float]):
    """An AutoScale record of the two-task fake benchmark with windows of τ = 10 over 100 steps."""
    r = record("autoscale", seed, switch=len(window_a) * 10)
    r.data["total_steps"] = 100
    r.data["method"].update(
        window_steps=[5.0 + 10 * i for i in range(len(window_a))],
        window_weights=[[a, 2.0 - a] for a in window_a],
        final_weights=final,
        config={"window": 10, "gamma": 0.5},
    )
    return r


def test_keeps_every_task_names_the_exploration_length_from_which_le_keeps_every_task():
    from autoscale.book.verdict import keeps_every_task
    from autoscale.book.window_study import WindowStudy

    # Task a's window weights climb 1.0, 1.4, 1.8, then stay at 1.0: a line through the first two or
    # three windows reaches a = 2.8 at γT = 50 (b clipped to 0); from four windows on it stays near 1.
    climb = [1.0, 1.4, 1.8] + [1.0] * 7
    explore_all = [_window_record(s, climb, None) for s in (0, 1)]
    default = [_window_record(0, [1.0, 1.0], [1.0, 1.0]), _window_record(1, [1.0, 1.0], [2.0, 0.0])]
    study = WindowStudy("bench", 10, {10: default}, explore_all, stl_records(seeds=(0, 1)))
    evidence, verdict = keeps_every_task({"bench": study})
    assert verdict == NOT
    assert evidence == (
        "bench: the default exploration (2 windows of τ = 10) switches a task off on 1 of 2 seeds; "
        "L.E. keeps every task from 4 windows (40 steps) on, in the α = 1 runs"
    )
    default[1].data["method"]["final_weights"] = [1.2, 0.8]
    assert keeps_every_task({"bench": study})[1] == REPLICATED


def test_the_answer_compares_autoscale_with_searched_unitary_and_the_best_mto():
    import pandas as pd

    from autoscale.book.answer import answer_differences, best_mto, findings, plot_answer

    # Δm = 50 - a: UW at a = 50 (Δm 0), MGDA at 51 (-1) is the best MTO; AutoScale (52, 52.1, 51.9).
    main = fake_main((52.0, 52.1, 51.9), {"uw": (50.0,) * 3, "mgda": (51.0,) * 3})
    assert best_mto(main["bench"]) == "mgda"
    frame = answer_differences(main).set_index("against")
    # AutoScale − unitary = (-2, -2.1, -1.9) and − MGDA = (-1, -1.1, -0.9); − searched (1.5, 0.5) at
    # Δm -2.5 = (0.5, 0.4, 0.6), half-width 4.3027 · 0.1 / √3 = 0.248.
    assert frame.loc["unitary LS", "AutoScale − row (Δm)"] == pytest.approx(-2.0)
    assert frame.loc["best MTO", "AutoScale − row (Δm)"] == pytest.approx(-1.0)
    assert frame.loc["best MTO", "row"] == "MGDA"
    searched = frame.loc["searched weights"]
    assert (searched["AutoScale − row (Δm)"], searched["low"]) == (pytest.approx(0.5), pytest.approx(0.2516, abs=1e-3))
    table = pd.DataFrame({"verdict": ["replicated", "partly", "partly"]})
    text = findings(table, answer_differences(main))
    assert text.startswith("Of the 3 claims of the verdict table: 2 partly, 1 replicated.")
    assert "bench +0.50 (worse, resolved)" in text
    fig = plot_answer(answer_differences(main))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "bench: Searched LS weights",
        "bench: Unitary LS",
        "bench: MGDA",
    ]


def test_the_verdict_chapter_has_a_section_per_claim_with_its_rule_and_chapters():
    import pandas as pd

    from autoscale.book.verdict import claim_sections

    table = pd.DataFrame(
        [
            {
                "in short": c.title,
                "where": c.where,
                "paper's numbers": "",
                "our evidence": f"evidence {i}",
                "why": c.rule,
                "verdict": "partly",
                "smallest resolvable difference": "0.5 Δm" if c.paired else "",
                "what would change this verdict": "",
                "evidence read": "profile cpu",
            }
            for i, c in enumerate(CLAIMS)
        ]
    )
    text = claim_sections(table)
    sections = text.split("\n\n### ")
    assert len(sections) == len(CLAIMS) and text.startswith(f"### {CLAIMS[0].title}: partly")
    for claim, section in zip(CLAIMS, sections, strict=True):
        assert claim.rule in section and claim.text in section and "none printed" in section
        assert ("Smallest resolvable difference" in section) == claim.paired
        assert all(f"]({c}.html)" in section for c in claim.chapters)


def test_stronger_evidence_is_read_only_with_at_least_as_many_seeds():
    from autoscale.book.results import stronger_main_results

    own = fake_main((52.0, 52.1, 51.9), {})["bench"]
    other = fake_main((50.0, 50.0, 50.0), {})["bench"]
    assert stronger_main_results(own, None) is own
    assert stronger_main_results(own, other) is other  # three seeds each: the longer training wins
    fewer = MainResults(replace(other.plan, seeds=[0, 1]), other.ls, other.stl, other.methods)
    assert stronger_main_results(own, fewer) is own


def test_predicted_weights_table_names_the_tasks_switched_off():
    from autoscale.book.results import predicted_weights_table

    runs = [_window_record(1, [1.0, 1.0], [2.0, 0.0]), _window_record(0, [1.0, 1.0], [1.25, 0.75])]
    table = predicted_weights_table(runs)
    assert list(table.index) == [0, 1]
    assert table.loc[0, ["a", "b"]].tolist() == [1.25, 0.75]
    assert table["switched off"].tolist() == ["–", "b"]


def test_exploration_table_pairs_autoscale_with_unitary_and_the_searched_weights_per_profile():
    from autoscale.book.window_study import exploration_table

    # AutoScale − unitary = (-2, -2.1, -1.9); − searched (1.5, 0.5) at Δm -2.5 = (0.5, 0.4, 0.6).
    res = fake_main((52.0, 52.1, 51.9), {})["bench"]
    for seed, run in enumerate(res.methods["autoscale"]):
        window = _window_record(seed, [1.0, 1.0], [2.0, 0.0] if seed == 2 else [1.0, 1.0])
        run.data.update(total_steps=100, method=window.data["method"])
    table = exploration_table({("cpu", "bench"): res})
    row = table.loc[("bench", "cpu")]
    assert (row["exploration"], row["windows × τ"]) == ("20 of 100 steps", "2 × 10")
    assert row["seeds with a task off"] == "1 of 3"
    assert row["AutoScale Δm"] == pytest.approx(-2.0)
    assert row["− unitary LS, paired"].startswith("-2.00 [")
    assert row["− searched weights, paired"].startswith("+0.50 [+0.25, +0.75]")
    assert exploration_table({}).empty and list(exploration_table({}).columns) == list(table.columns)
