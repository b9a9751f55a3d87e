"""Verdicts on Royer et al.'s claims, on hand-made main tables and capacity sweeps with known answers."""

from __future__ import annotations

from test_capacity_study import sweep
from test_results import fake_main

from autoscale.book.capacity import CapacityStudy
from autoscale.book.royer import (
    capacity_gain_verdict,
    conflict_verdict,
    ranking_verdict,
    royer_verdict_table,
    tuned_ls_verdict,
)
from autoscale.book.verdict import INCONCLUSIVE, NOT, PARTLY, REPLICATED


def test_tuned_ls_holds_where_no_mto_is_resolved_better():
    # The grid's (1.5, 0.5): Δm -2.5 on every seed. UW (Δm 0) and MGDA (-1) are resolved worse;
    # PCGrad's Δm (-3, -1, -2.5) gives differences (0.5, -1.5, 0): unresolved.
    main = fake_main((52.0, 52.1, 51.9), {"uw": (50.0,) * 3, "mgda": (51.0,) * 3, "pcgrad": (53.0, 51.0, 52.5)})
    evidence, verdict = tuned_ls_verdict(main)
    assert verdict == REPLICATED
    assert evidence == "bench: tuned LS resolved better than 2/3 MTOs, worse than 0"
    # An MTO at Δm -4 on every seed beats it: not replicated on the only benchmark.
    main = fake_main((52.0, 52.1, 51.9), {"uw": (54.0, 54.1, 53.9)})
    evidence, verdict = tuned_ls_verdict(main)
    assert verdict == NOT and evidence.endswith("worse than 1 (uw)")


def test_gain_with_capacity_pairs_each_widths_own_choice_over_seeds():
    # Width 1 keeps (1, 1) at Δm 1; width 2 keeps (1.5, 0.5) at Δm -2 (+0, +0.3, -0.3 by seed):
    # the larger model's Δm is lower by 3 on every seed but for the noise: resolved.
    study = CapacityStudy(
        "multimnist",
        {1.0: sweep(1.0, {0: 1, 1: 2, 2: 3}), 2.0: sweep(2.0, {0: 0, 1: -2, 2: 1}, noise=(0.0, 0.3, -0.3))},
    )
    evidence, verdict = capacity_gain_verdict({"multimnist": study})
    assert verdict == REPLICATED and evidence.startswith("multimnist: Δm ×2 − ×1 -3.00 [")
    reverse = CapacityStudy("multimnist", {0.5: study.sweeps[2.0], 1.0: study.sweeps[1.0]})
    assert capacity_gain_verdict({"multimnist": reverse})[1] == NOT


def test_ranking_is_judged_on_kendalls_tau_between_the_extreme_widths():
    same = CapacityStudy("multimnist", {1.0: sweep(1.0, {0: 1, 1: 2, 2: 3}), 2.0: sweep(2.0, {0: 0, 1: 2, 2: 5})})
    evidence, verdict = ranking_verdict({"multimnist": same})
    assert verdict == REPLICATED and evidence.startswith("multimnist: τ(×1, ×2) +1.00 [+1.00, +1.00]")
    # One discordant pair of three (τ = 1/3): three weight sets cannot resolve it.
    swapped = CapacityStudy("multimnist", {1.0: sweep(1.0, {0: 1, 1: 2, 2: 3}), 2.0: sweep(2.0, {0: 1, 1: 3, 2: 2})})
    assert ranking_verdict({"multimnist": swapped})[1] == INCONCLUSIVE


def test_conflict_claim_needs_a_weak_link_and_little_change():
    # Conflict 0.3 for every run, at both widths: no relation to Δm can be computed (constant), no
    # change anywhere: holds.
    flat = CapacityStudy(
        "multimnist",
        {
            1.0: sweep(1.0, {0: 1, 1: 2, 2: 3}, conflict=0.3, per_set=0.0),
            2.0: sweep(2.0, {0: 1, 1: 3, 2: 2}, conflict=0.3, per_set=0.0),
        },
    )
    evidence, verdict = conflict_verdict({"multimnist": flat})
    assert verdict == REPLICATED and "moves up to 0.00 across widths and 0.00 across weight sets" in evidence
    # Conflict rising with the weight set by 0.2 and tracking Δm exactly: neither part holds.
    tracking = CapacityStudy("multimnist", {1.0: sweep(1.0, {0: 1, 1: 2, 2: 3}, per_set=0.2)})
    assert conflict_verdict({"multimnist": tracking})[1] == NOT


def test_the_table_has_one_row_per_claim():
    main = fake_main((52.0, 52.1, 51.9), {"uw": (50.0,) * 3})
    study = CapacityStudy("multimnist", {1.0: sweep(1.0, {0: 1, 1: 2, 2: 3}), 2.0: sweep(2.0, {0: 1, 1: 2, 2: 3})})
    table = royer_verdict_table(main, {"multimnist": study})
    assert len(table) == 4 and set(table["verdict"]) <= {REPLICATED, PARTLY, NOT, INCONCLUSIVE}
    assert table["rule"].str.len().min() > 20
