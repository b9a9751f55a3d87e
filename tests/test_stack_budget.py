"""Stacks sized to the time left (the GPU session's deadline)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from autoscale.commands import gpu_session
from autoscale.experiments.profiles import profile_config
from autoscale.experiments.stack_budget import StackBudget


def _configs(n: int, method: str = "unitary"):
    base = profile_config("multimnist", "smoke")
    return [replace(base, method=method, seed=s) for s in range(n)]


def test_budget_probes_then_never_underestimates_one_measurement():
    budget = StackBudget(kind=lambda c: (c.method,), probe_size=4, margin=0.5)
    config = _configs(1)[0]
    assert budget.size(config, 1000.0, cap=64) == 4  # nothing measured: a probe
    assert budget.size(config, 1000.0, cap=2) == 2  # never above the cap
    assert budget.size(config, 0.0, cap=64) == 0  # no time left
    assert budget.record(_configs(4), 40.0) == {"kind": ["unitary"], "runs": 4, "seconds": 40.0}
    assert budget.estimate(("unitary",), 1) == 40.0  # a smaller stack: no faster than the measured one
    assert budget.estimate(("unitary",), 10) == 100.0  # a larger one: proportionally slower at most
    assert budget.size(config, 200.0, cap=64) == 10  # 0.5 * 200 s holds t(10) = 100 s
    assert budget.size(config, 79.0, cap=64) == 0  # half of 79 s holds no stack of 40 s
    assert budget.size(config, 1e6, cap=64) == 64
    assert budget.size(_configs(1, method="famo")[0], 100.0, cap=64) == 4  # another kind: its own probe


def test_budget_fits_a_line_through_several_sizes():
    budget = StackBudget(kind=lambda c: (c.method,), margin=1.0)
    budget.record(_configs(4), 120.0 + 4 * 5.0)
    budget.record(_configs(12), 120.0 + 12 * 5.0)
    assert budget.estimate(("unitary",), 64) == pytest.approx(120.0 + 64 * 5.0)
    assert budget.size(_configs(1)[0], 302.0, cap=64) == 36  # 120 + 5 n <= 302
    noisy = StackBudget(kind=lambda c: (c.method,))
    noisy.record(_configs(4), 50.0)
    noisy.record(_configs(5), 45.0)  # one run more, faster: no slope to trust
    assert noisy.estimate(("unitary",), 1) == 50.0


def test_budget_reads_earlier_sessions_on_the_same_device():
    row = {"kind": ["scenes-street", "full", False], "runs": 4, "seconds": 132.0}
    sessions = [
        {"device": "H100", "tiers": {"2": {"stacks": [row]}}},
        {"device": "H200", "tiers": {"2": {"stacks": [{**row, "seconds": 1.0}]}}},
        {"device": "H100", "tiers": {"1": {"name": "no stacks stored"}}},
    ]
    budget = StackBudget(kind=lambda c: (c.benchmark, c.profile, False))
    budget.add_sessions(sessions, "H100")
    assert budget.estimate(("scenes-street", "full", False), 4) == 132.0


def test_the_session_trains_whole_stacks_before_its_deadline(monkeypatch: pytest.MonkeyPatch):
    clock = {"now": 0.0}
    stacks: list[int] = []

    def fake_run_stack(stack, store, progress, deadline):
        if clock["now"] + 10.0 * len(stack) > deadline:
            clock["now"] = deadline
            return [None] * len(stack)
        clock["now"] += 10.0 * len(stack)  # 10 s per run, however stacked
        stacks.append(len(stack))
        return [{}] * len(stack)

    monkeypatch.setattr(gpu_session, "run_stack", fake_run_stack)
    monkeypatch.setattr(gpu_session, "time", SimpleNamespace(time=lambda: clock["now"]))
    said: list[str] = []
    groups = gpu_session.ordered_groups(_configs(20), max_size=64)
    entry: dict = {}
    budget = StackBudget(kind=gpu_session.run_kind)
    trained = gpu_session.train_groups(
        groups, None, 100.0, said.append, lambda: None, entry, budget, gpu_session.GpuMonitor()
    )
    # Probe of 4 (40 s), then t(n) = 40 max(1, n / 4) <= 0.85 * 60 s gives 5 runs (50 s); 10 s left
    # hold no further stack.
    assert stacks == [4, 5] and trained == 9
    assert [row["runs"] for row in entry["stacks"]] == [4, 5]
    assert entry["stacks"][0]["kind"] == ["multimnist", "smoke", False]
    assert "deadline: a stack of one more unitary run takes about" in said[-1]
    assert not any("stopped unfinished" in s for s in said)


def test_groups_put_cheap_runs_first_and_cap_gramian_stacks():
    configs = _configs(3, "imtlg") + _configs(3, "cagrad") + _configs(30, "unitary") + _configs(2, "autoscale")
    groups = gpu_session.ordered_groups(configs, max_size=64)
    methods = [sorted({c.method for c in g}) for g, _ in groups]
    assert methods == [["unitary"], ["autoscale"], ["imtlg"], ["cagrad"]]
    assert [cap for _, cap in groups] == [
        64,
        gpu_session.GRAMIAN_STACK,
        gpu_session.GRAMIAN_STACK,
        gpu_session.GRAMIAN_STACK,
    ]
    assert sum(len(g) for g, _ in groups) == len(configs)
