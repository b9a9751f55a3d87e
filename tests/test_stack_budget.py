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


def test_budget_probes_then_sizes_linearly():
    budget = StackBudget(kind=lambda c: c.method, probe_size=4, margin=0.5)
    config = _configs(1)[0]
    assert budget.size(config, 1000.0, cap=64) == 4  # nothing measured: a probe
    assert budget.size(config, 1000.0, cap=2) == 2  # never above the cap
    assert budget.size(config, 0.0, cap=64) == 0  # no time left
    budget.record(_configs(4), 40.0)  # 10 s per run
    assert budget.size(config, 100.0, cap=64) == 5  # 0.5 * 100 s / 10 s
    assert budget.size(config, 19.0, cap=64) == 0  # half of 19 s holds no 10 s run
    assert budget.size(config, 1e6, cap=64) == 64
    other = _configs(1, method="famo")[0]
    assert budget.size(other, 100.0, cap=64) == 4  # another kind is probed on its own


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
    trained = gpu_session.train_groups(groups, None, 100.0, said.append, lambda: None, {})
    # Probe of 4 (40 s), then 0.85 * 60 s / 10 s = 5 runs (50 s); 10 s left hold no further run.
    assert stacks == [4, 5] and trained == 9
    assert "deadline: one more unitary run takes about 10 s, 10 s are left" in said[-1]
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
