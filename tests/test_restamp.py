"""Restamping stale records by exact re-derivation of a stratified sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoscale.experiments import records
from autoscale.experiments.profiles import profile_config
from autoscale.experiments.restamp import plan_restamp, restamp
from autoscale.experiments.runs import run
from autoscale.experiments.store import RunStore

TINY = {"sizes": {"train": 96, "val": 32, "test": 32}}
NEW_CODE = "f" * 16


def tiny(method: str, seed: int = 0):
    return profile_config(
        "multimnist", "cpu", data=TINY, epochs=1, batch_size=32, metrics_every=2, method=method, seed=seed
    )


@pytest.fixture
def stale_store(results_root: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    """Three records (two strata: loss-based, Gramian) trained, then made stale by a code change."""
    for config in (tiny("imtlg"), tiny("uw"), tiny("uw", seed=1)):
        run(config, progress=False)
    monkeypatch.setattr(records, "record_fingerprint", lambda record: NEW_CODE)
    return RunStore()


def test_restamp_rederives_one_record_per_stratum_and_restamps_all(stale_store: RunStore) -> None:
    before = {p: stale_store.read(p) for p in stale_store.record_paths("cpu")}
    plan = plan_restamp(stale_store, "cpu")
    assert sorted(plan.strata) == [("multimnist", "gramian"), ("multimnist", "loss")]
    assert len(plan.stale_cpu) == 3
    result = restamp(stale_store, plan, commit="abc123")
    assert result.ok and len(result.verdicts) == 2 and all(v.exact for v in result.verdicts)
    assert sorted(result.restamped) == sorted(before)
    for path, old in before.items():
        new = stale_store.read(path)  # the manifest's sha256 was updated with the file
        assert not records.is_stale(new)
        assert new["restamped"] == {"commit": "abc123", "from": old["fingerprint"]}
        assert {k: v for k, v in new.items() if k not in ("fingerprint", "restamped")} == {
            k: v for k, v in old.items() if k != "fingerprint"
        }
    [log] = records.read_restamps(stale_store.manifest_path("cpu"))
    assert log["commit"] == "abc123" and log["sample_size"] == 2 and log["restamped"] == 3
    assert sorted(log["sample"]) == sorted(f"multimnist/{v.path.name}" for v in result.verdicts)
    assert plan_restamp(stale_store, "cpu").stale_cpu == []


def test_restamp_refuses_when_a_sampled_number_differs(stale_store: RunStore) -> None:
    path = stale_store.path(tiny("imtlg"))
    record = stale_store.read(path)
    record["final"]["test"]["left"]["acc"] += 1e-6  # numbers the code no longer produces
    stale_store.save(record)  # through the store: the manifest agrees with the file
    record = stale_store.read(path)
    record["fingerprint"] = "0" * 16  # saving stamped it with the (patched) current fingerprint
    stale_store.save_encoded(path, record, records.encode(record))
    before = {p: p.read_bytes() for p in stale_store.record_paths("cpu")}
    plan = plan_restamp(stale_store, "cpu")
    result = restamp(stale_store, plan, commit="abc123")
    assert not result.ok and result.restamped == []
    assert any(d.startswith("final.test.left.acc") for v in result.verdicts for d in v.differences)
    assert {p: p.read_bytes() for p in stale_store.record_paths("cpu")} == before
    assert records.read_restamps(stale_store.manifest_path("cpu")) == []


def from_another_cpu(store: RunStore, path: Path) -> None:
    """Make the record at ``path`` look trained on another kind of CPU (through the store)."""
    record = store.read(path)
    record["cpu_kind"] = "GenuineIntel AVX512"
    store.save_encoded(path, record, records.encode(record))


def test_a_record_of_another_cpu_kind_needs_a_baseline(stale_store: RunStore) -> None:
    from autoscale.experiments.restamp import NeedsBaseline

    path = stale_store.path(tiny("imtlg"))
    from_another_cpu(stale_store, path)
    assert not records.rederives_exactly_here(stale_store.read(path))
    with pytest.raises(NeedsBaseline, match="another kind of CPU"):
        restamp(stale_store, plan_restamp(stale_store, "cpu"), commit="abc123")


def test_the_sample_prefers_a_record_this_cpu_rederives_exactly(stale_store: RunStore) -> None:
    """The loss stratum holds two UW runs: the cheaper one, made foreign, gives way to the other."""
    entries = stale_store.manifest("cpu")
    paths = [stale_store.path(tiny("uw", seed=s)) for s in (0, 1)]
    cheaper, dearer = sorted(paths, key=lambda p: (entries[f"{p.parent.name}/{p.name}"]["wall_s"], p.name))
    assert cheaper in plan_restamp(stale_store, "cpu").sample(stale_store)
    from_another_cpu(stale_store, cheaper)
    sample = plan_restamp(stale_store, "cpu").sample(stale_store)
    assert dearer in sample and cheaper not in sample and len(sample) == 2


def test_differential_restamp_compares_the_baselines_run_with_the_current_one(
    stale_store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline's run is stood in for by the current code's own re-derivation (identical), then by
    one with a changed number (refused), then by code of another fingerprint (refused)."""
    import autoscale.experiments.restamp as restamp_module

    path = stale_store.path(tiny("imtlg"))
    from_another_cpu(stale_store, path)
    old = stale_store.read(path)["fingerprint"]
    same = restamp_module.rederive(stale_store.read(path))
    changed = {**same, "final": {**same["final"], "val": {**same["final"]["val"], "left": {"acc": -1.0}}}}
    for answer, ok in (((old, changed), False), (("0" * 16, same), False), ((old, same), True)):
        monkeypatch.setattr(restamp_module, "rederive_at", lambda commit, record, answer=answer: answer)
        result = restamp(stale_store, plan_restamp(stale_store, "cpu"), commit="abc123", baseline="base")
        assert result.ok is ok
        assert bool(result.restamped) is ok
    [log] = records.read_restamps(stale_store.manifest_path("cpu"))
    assert log["baseline"] == "base" and log["cpu_kind"] == records.cpu_kind()


def test_the_baseline_code_runs_in_a_worktree_of_its_commit(results_root: Path) -> None:
    """HEAD's code, checked out apart and run in a subprocess, re-derives a run and names its
    fingerprint (a clean checkout, as in CI, gives the stored record exactly)."""
    import subprocess

    from autoscale.experiments.restamp import rederive_at

    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    stored = run(tiny("uw"), progress=False)
    code, fresh = rederive_at(head.stdout.strip(), stored)
    assert len(code) == 16 and fresh["config"] == stored["config"]
    assert fresh["final"].keys() == stored["final"].keys()
