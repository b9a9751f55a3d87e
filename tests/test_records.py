"""Run records as data: encoding, fingerprint, manifest, damaged records and checkpoints, status,
re-derivation."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import autoscale.experiments.verify as verify_module
from autoscale.book.provenance import provenance_line
from autoscale.commands.cli import main
from autoscale.experiments import fingerprint, record_status, records
from autoscale.experiments.profiles import profile_config
from autoscale.experiments.runs import plan_line, run
from autoscale.experiments.store import RecordWarning, RunStore
from autoscale.experiments.verify import cross_device_differences, differences, select, verify_record

TINY = {"sizes": {"train": 128, "val": 64, "test": 64}}


def tiny(**kw):
    options = {"metrics_every": 2, "method": "imtlg", **kw}
    return profile_config("multimnist", "cpu", data=TINY, epochs=1, batch_size=32, **options)


# -- encoding ---------------------------------------------------------------------------------


def test_packed_arrays_round_trip_float32_exactly_and_shrink_the_record():
    rng = np.random.default_rng(0)
    losses = rng.random((500, 2)).astype(np.float32).astype(float).tolist()
    record = {
        "config": {"method": "x"},
        "steps": {"loss": losses, "weights": [[1.0, 1.0]] * 500, "time_s": rng.random(500).tolist()},
        "metrics": {"step": list(range(0, 500, 20)), "gms": [math.nan, math.inf, 0.5] + [0.25] * 22, "empty": []},
        "final": {"val": {"left": {"acc": 0.123456789012345}}},
    }
    data = records.encode(record)
    back = records.decode(data)
    assert back["steps"]["loss"] == losses  # float32 values are stored without loss
    assert back["steps"]["weights"] == record["steps"]["weights"]
    assert back["metrics"]["step"] == record["metrics"]["step"] and isinstance(back["metrics"]["step"][0], int)
    assert math.isnan(back["metrics"]["gms"][0]) and back["metrics"]["gms"][1] == math.inf
    assert back["metrics"]["empty"] == []
    assert back["final"] == record["final"]  # results outside the per-step sections keep float64
    times = np.asarray(back["steps"]["time_s"])
    assert np.allclose(times, record["steps"]["time_s"], rtol=1e-7)  # float32: 7 significant digits
    assert len(data) < 0.5 * len(json.dumps(record))
    assert data.count(b"\n") == 1  # one line, no indentation
    assert records.encode(records.decode(data)) == data  # encoding is idempotent


def test_fingerprint_ignores_prose_and_formatting_but_not_code():
    code = 'def f(x):\n    """Doc."""\n    return x + 1  # comment\n'
    same = "def f(x):\n\n    return (x + 1)\n"
    other = 'def f(x):\n    """Doc."""\n    return x + 2\n'
    assert fingerprint.normalized_source(code) == fingerprint.normalized_source(same)
    assert fingerprint.normalized_source(code) != fingerprint.normalized_source(other)
    assert len(fingerprint.run_fingerprint(tiny().to_dict())) == 16


def test_fingerprint_is_the_same_under_other_python_versions():
    # Records come from several interpreters (3.11 here, 3.12 on the GPU machine); the same code
    # must give the same fingerprint under each. The module is loaded by path: stdlib only.
    source = Path(fingerprint.__file__)
    script = (
        "import importlib.util, pathlib, sys\n"
        f"spec = importlib.util.spec_from_file_location('fp', {str(source)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        f"package = pathlib.Path({str(source.parents[1])!r})\n"
        "print(module.fingerprint_modules(module.run_modules(module.CORE, 'multimnist', package), 'multimnist'))\n"
    )
    core = fingerprint.fingerprint_modules(fingerprint.run_modules(fingerprint.CORE, "multimnist"), "multimnist")
    others = other_pythons()
    if not others:
        pytest.skip("no other Python version (3.10, 3.12, 3.13) runs on this machine")
    for version, python in others.items():
        result = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True)
        assert result.stdout.strip() == core, f"Python {version}"


def other_pythons() -> dict[str, str]:
    """Runnable interpreters of Python 3.10, 3.12 and 3.13 (on PATH or installed by pyenv)."""
    found = {}
    pyenv = Path.home() / ".pyenv" / "versions"
    for version in ("3.10", "3.12", "3.13"):
        candidates = [shutil.which(f"python{version}"), *map(str, sorted(pyenv.glob(f"{version}.*/bin/python3")))]
        for python in filter(None, candidates):
            probe = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
            if probe.returncode == 0:
                found[version] = python
                break
    return found


# -- the store: manifest, stale, damaged records ----------------------------------------------


def test_saved_record_carries_provenance_and_its_manifest_entry(results_root: Path):
    record = run(tiny(), progress=False)
    store = RunStore()
    path = store.path(tiny())
    entry = store.manifest("cpu")[f"multimnist/{path.name}"]
    assert entry["sha256"] == records.hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["fingerprint"] == record["fingerprint"] == records.record_fingerprint({"config": tiny().to_dict()})
    assert entry["device"] == "cpu" and entry["device_name"] == record["device"]
    for key in ("commit", "torch", "python", "wall_s", "date", "threads"):
        assert entry[key] is not None
    assert record["config_hash"] == path.stem
    assert not records.is_stale(record)
    assert "none stale" in provenance_line([record])


def test_stale_record_is_still_used_and_reported(results_root: Path, monkeypatch: pytest.MonkeyPatch):
    config = tiny()
    first = run(config, progress=False)
    monkeypatch.setattr(records, "record_fingerprint", lambda record: "0" * 16)
    monkeypatch.setattr(record_status, "chapter_configs", lambda profile, store=None: {"chapter": [config]})
    monkeypatch.setattr(record_status, "chapter_searches", lambda profile: {})
    again = run(config, progress=False)  # not retrained: the book still shows a stale record
    assert again == first
    assert records.is_stale(again)
    assert f"1 of 1 stale (trained by other code, at commit {first['git_commit']})" in provenance_line([again])
    status = record_status.store_status("cpu")
    counts = {"present": 0, "missing": 0, "stale": 1, "corrupt": 0}
    assert status.rows == [{"chapter": "chapter", "benchmark": "multimnist", **counts}]
    assert status.complete and not status.clean and status.stale_commits == {first["git_commit"]}


def _damage_and_reload(results_root: Path, damage, message: str) -> None:
    config = tiny()
    first = run(config, progress=False)
    store = RunStore()
    path = store.path(config)
    damage(path)
    with pytest.warns(RecordWarning, match=message) as caught:
        again = run(config, progress=False)
    text = str(caught[0].message)
    assert str(path) in text and "retrained" in text and "git checkout" in text
    moved = list((results_root / "cpu" / "corrupt").glob(f"{path.stem}.*.json"))
    assert len(moved) == 1  # kept for inspection, out of the store
    assert path.is_file() and again["final"] == first["final"]  # retrained, same numbers (CPU)


def test_truncated_record_is_moved_aside_and_retrained(results_root: Path):
    def cut(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])

    _damage_and_reload(results_root, cut, "truncated or not valid JSON")


def test_merge_conflict_marker_is_named(results_root: Path):
    def conflict(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(b"<<<<<<< HEAD\n" + data + b"=======\n" + data + b">>>>>>> other\n")

    _damage_and_reload(results_root, conflict, "merge-conflict markers")


def test_record_that_does_not_match_the_manifest_is_named(results_root: Path):
    def edit(path: Path) -> None:  # still valid JSON, but not what was trained
        record = json.loads(path.read_bytes())
        record["final"]["test"]["left"]["acc"] = 0.999
        path.write_bytes(json.dumps(record).encode())

    _damage_and_reload(results_root, edit, "sha256 does not match")


def test_damaged_manifest_is_rebuilt_from_the_records(results_root: Path):
    run(tiny(), progress=False)
    run(tiny(seed=1), progress=False)
    store = RunStore()
    manifest = store.manifest_path("cpu")
    before = store.manifest("cpu")
    manifest.write_text("<<<<<<< HEAD\n" + manifest.read_text() + ">>>>>>> other\n")
    status = record_status.store_status("cpu")
    assert any("merge-conflict markers" in p and "rebuild-manifest" in p for p in status.problems)
    with pytest.warns(RecordWarning, match="merge-conflict markers"):
        rebuilt = store.manifest("cpu")
    assert rebuilt == before
    assert len(list((results_root / "cpu" / "corrupt").glob("manifest.*.json"))) == 1


def test_corrupt_checkpoint_is_moved_aside_and_the_run_restarts(results_root: Path):
    config = tiny()
    reference = run(config, progress=False)
    store = RunStore()
    store.path(config).unlink()
    checkpoint = store.checkpoint_path(config)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.warns(RecordWarning, match="cannot be resumed from") as caught:
        again = run(config, progress=False)
    assert str(checkpoint) in str(caught[0].message) and "from the start" in str(caught[0].message)
    assert again["steps"]["loss"] == reference["steps"]["loss"] and again["final"] == reference["final"]
    assert not checkpoint.exists() and len(list(checkpoint.parent.glob("*.corrupt-*.pt"))) == 1


# -- status, default profile, estimates ---------------------------------------------------------


def test_status_counts_and_default_profile(results_root: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    plans = {"cpu": [tiny(), tiny(seed=1)], "full": [profile_config("multimnist", "full", data=TINY, epochs=1)]}
    monkeypatch.setattr(
        record_status,
        "chapter_configs",
        lambda profile, store=None: {"ls": plans.get(profile, []), "main": plans.get(profile, [])},
    )
    monkeypatch.setattr(record_status, "chapter_searches", lambda profile: {})
    run(tiny(), progress=False)
    run(tiny(lr=0.5), progress=False)  # a record no chapter reads
    status = record_status.store_status("cpu")
    assert [(r["present"], r["missing"]) for r in status.rows] == [(1, 1), (1, 1)]
    assert status.extra == 1 and not status.complete
    assert record_status.default_profile() == "cpu"  # nothing is complete: the fallback
    assert main(["records", "status", "--profile", "cpu", "--strict"]) == 1
    assert "records train --profile cpu" in capsys.readouterr().out
    assert main(["records", "status", "--profile", "cpu", "--fresh"]) == 0  # missing, but nothing stale
    run(tiny(seed=1), progress=False)
    assert record_status.store_status("cpu").clean
    with monkeypatch.context() as patched:
        patched.setattr(record_status.records, "is_stale", lambda record: True)
        assert main(["records", "status", "--profile", "cpu", "--fresh"]) == 1
    assert record_status.default_profile() == "cpu"
    run(plans["full"][0], progress=False)
    assert record_status.default_profile() == "full"  # the strongest complete profile


def test_plan_line_estimates_from_the_manifest(results_root: Path):
    store = RunStore()
    assert "no estimate" in plan_line("x", [tiny()], 3, store, 2)
    run(tiny(), progress=False)
    wall = store.manifest("cpu")[f"multimnist/{store.path(tiny()).name}"]["wall_s"]
    line = plan_line("book", [tiny(seed=1), tiny(seed=2)], 3, store, 2)
    assert line.startswith("book: training 2 of 3 runs (1 in the store); estimated")
    assert f"{2 * wall / 2 / 60:.1f} min with 2 worker(s)" in line
    assert main(["records", "clear", "--profile", "cpu"]) == 0  # a rebuild from scratch
    assert store.record_paths("cpu") == []
    assert f"{2 * wall / 2 / 60:.1f} min" in plan_line("book", [tiny(seed=1), tiny(seed=2)], 2, store, 2)


# -- verification -------------------------------------------------------------------------------


def test_differences_are_exact_unless_a_tolerance_is_given():
    stored = {"a": [1.0, 2.0, math.nan], "b": {"c": 3}, "device": "x", "steps": {"time_s": [1.0]}}
    assert list(differences(stored, {**stored, "device": "y", "steps": {"time_s": [2.0]}})) == []
    changed = {**stored, "a": [1.0, 2.0 + 1e-12, math.nan]}
    assert list(differences(stored, changed)) == ["a[1]: stored 2.0, fresh 2.000000000001"]
    assert list(differences(stored, changed, rtol=1e-9)) == []
    assert list(differences(stored, {**stored, "a": [1.0, 2.0, 0.0]})) == ["a[2]: stored nan, fresh 0.0"]
    assert list(differences(stored, {**stored, "b": {}})) == ["b.c: only in the stored record"]


def test_verify_rederives_exactly_and_catches_a_changed_number(results_root: Path, capsys):
    run(tiny(), progress=False)
    store = RunStore()
    path = store.path(tiny())
    [chosen] = select(store, "cpu", cheapest=1, method="imtlg")
    assert chosen == path
    verdict = verify_record(store, path)
    assert verdict.ok and verdict.exact
    assert main(["records", "verify", "--profile", "cpu", "--cheapest", "1", "--seed", "0"]) == 0
    assert "identical to the stored record (exact comparison)" in capsys.readouterr().out
    # A record whose numbers the code no longer produces (written through the store, so the
    # manifest agrees): verification fails and names the number.
    record = store.read(path)
    record["steps"]["loss"][3][1] += 1e-6
    store.save(record)
    verdict = verify_record(store, path)
    assert not verdict.ok and verdict.differences[0].startswith("steps.loss[3][1]")
    assert main(["records", "verify", "--profile", "cpu", "--cheapest", "1", "--seed", "0"]) == 1


def test_records_from_another_device_are_compared_with_a_tolerance(results_root: Path):
    stored = run(tiny(), progress=False)
    fresh = json.loads(json.dumps(stored))
    fresh["final"]["test"]["left"]["acc"] *= 1.01
    assert cross_device_differences(stored, fresh) == []
    fresh["final"]["test"]["left"]["acc"] *= 1.2
    assert [d.split(":")[0] for d in cross_device_differences(stored, fresh)] == ["final.test.left.acc"]
    store = RunStore()
    path = store.path(tiny())
    stored["device"] = "cuda: NVIDIA H100"
    store.save(stored)
    verdict = verify_record(store, path)
    assert verdict.ok and not verdict.exact


def test_rederivation_uses_the_recorded_thread_count(results_root: Path, monkeypatch: pytest.MonkeyPatch):
    run(tiny(), progress=False)
    store = RunStore()
    path = store.path(tiny())
    record = store.read(path)
    record["threads"] = 1
    path.write_bytes(records.encode(record))
    store.rebuild_manifest("cpu")
    seen = []
    original = verify_module.run

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(verify_module, "run", spy)
    threads = torch.get_num_threads()
    verify_record(store, path)
    assert seen == [1] and torch.get_num_threads() == threads


def test_files_beside_the_records_are_not_records(results_root: Path):
    bench = results_root / "full" / "bench" / "cpu-2core.json"
    bench.parent.mkdir(parents=True)
    bench.write_text('{"benchmarks": {}}')
    store = RunStore()
    assert store.record_paths("full") == []
    assert store.rebuild_manifest("full") == {}
    assert bench.is_file()  # not taken for a damaged record and moved aside


def test_pbt_searches_are_listed_in_the_manifest_and_checked(results_root: Path) -> None:
    from autoscale.experiments.plans import PBTConfig
    from autoscale.experiments.record_status import search_state

    store = RunStore()
    search = PBTConfig("multimnist", "cpu", seed=4)
    path = results_root / "cpu" / "multimnist" / "pbt" / f"{search.key()}.json"
    assert search_state(store, search) == "missing"
    result = {"config": {"benchmark": "multimnist", "seed": 4, "population": 8}, "best": {}, "reports": []}
    data = json.dumps(result).encode()
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    store.add_search(path, result, data)
    run(tiny(), progress=False)  # a record saved afterwards keeps the search's line
    listed = records.read_searches(store.manifest_path("cpu"))
    assert listed[f"multimnist/pbt/{path.name}"]["sha256"] == records.hashlib.sha256(data).hexdigest()
    assert search_state(store, search) == "present"
    path.write_bytes(data.replace(b"[]", b"[ ]"))  # edited since the search wrote it
    assert search_state(store, search) == "corrupt"
    store.rebuild_manifest("cpu")  # rebuilt from the files as they are
    assert search_state(store, search) == "present" and len(store.manifest("cpu")) == 1


def test_verify_can_keep_to_records_of_this_cpu_kind(results_root: Path, capsys) -> None:
    run(tiny(), progress=False)
    store = RunStore()
    path = store.path(tiny())
    assert select(store, "cpu", cheapest=1, cpu_kind=records.cpu_kind()) == [path]
    assert select(store, "cpu", cheapest=1, cpu_kind="GenuineIntel AVX512") == []
    record = store.read(path)
    record["cpu_kind"] = "GenuineIntel AVX512"  # as if trained on another kind of CPU
    store.save_encoded(path, record, records.encode(record))
    assert main(["records", "verify", "--profile", "cpu", "--cheapest", "1", "--same-cpu-kind"]) == 0
    assert "nothing to re-derive exactly here" in capsys.readouterr().out
    # Without the filter it is re-derived and compared within the cross-device tolerance, not exactly.
    verdict = verify_record(store, path)
    assert not verdict.exact and verdict.ok


def test_records_train_finishes_each_chapter_before_the_next(monkeypatch: pytest.MonkeyPatch, capsys):
    import autoscale.commands.record_commands as record_commands
    import autoscale.experiments.runs as runs_module
    from autoscale.experiments.store import config_hash

    first, shared, last = (tiny(seed=s) for s in range(3))
    trained: list[str] = []

    class Store:
        root = Path("/nowhere")

        def load(self, config):
            return {} if config_hash(config) in trained else None

        def manifest(self, profile):
            return {}

        def timing_entries(self, profile):
            return [{"benchmark": "multimnist", "method": "imtlg", "wall_s": 60.0}]

    def fake_sweep(configs, store, desc, workers, engine):
        trained.extend(config_hash(c) for c in configs)
        print(f"trained {desc}: {len(configs)}")

    plan = {"one": [first, shared], "two": [shared, last]}
    monkeypatch.setattr(record_commands, "CHAPTERS", tuple(plan))
    monkeypatch.setattr(record_commands, "chapter_configs", lambda profile, device, store: plan)
    monkeypatch.setattr(record_commands, "book_configs", lambda profile, device, store: [first, shared, last])
    monkeypatch.setattr(record_commands, "chapter_searches", lambda profile, device: {})
    monkeypatch.setattr(runs_module, "sweep", fake_sweep)
    assert record_commands.train(Store(), "cpu", "cpu", 2) == 0
    out = capsys.readouterr().out
    assert trained == [config_hash(c) for c in (first, shared, last)]
    # What is left, per chapter (a shared run counts in its first chapter), and the time at 60 s a run on 2 workers.
    assert "left of the book at cpu: 3 of 3 runs (one 2, two 1); about 2 min with 2 worker(s)" in out
    assert out.index("trained one [cpu]: 2") < out.index("left of the book at cpu: 1 of 3 runs (two 1)")
    assert "trained two [cpu]: 1" in out
