"""The step-time benchmark's command: its table, its JSON file and its key lines."""

from __future__ import annotations

import json
import re

import pytest

from autoscale.bench import steps as bench


def test_quick_bench_prints_the_four_key_lines(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(bench, "QUICK", bench.Settings(warmup=1, steps=1, run_steps=4))
    monkeypatch.setitem(bench.BENCHMARKS, "multimnist", {**bench.BENCHMARKS["multimnist"], "batch_size": 8})
    out = tmp_path / "bench.json"
    bench.main(
        [
            "--quick",
            "--benchmark",
            "multimnist",
            "--methods",
            "unitary",
            "imtlg",
            "autoscale",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    lines = capsys.readouterr().out.strip().splitlines()[-4:]
    labels = [label for _, label in bench.KEY_LINES]
    for line, label in zip(lines, labels, strict=True):
        assert re.fullmatch(re.escape(label) + r": \d+\.\d\d", line), line
    result = json.loads(out.read_text())
    steps = result["benchmarks"]["multimnist"]["steps"]
    assert {"unitary", "imtlg", "autoscale (phase 1)", "autoscale (phase 2)", "per-task backward loop"} <= set(steps)
    assert steps["unitary"]["ratio_to_unitary"] == 1.0
    assert set(result["key_ratios"]) == {"benchmark", *(key for key, _ in bench.KEY_LINES)}


def test_bench_without_out_writes_nothing(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A quick look leaves the results alone: nothing under the results root, nothing anywhere."""
    monkeypatch.setattr(bench, "QUICK", bench.Settings(warmup=1, steps=1, run_steps=2))
    monkeypatch.setitem(bench.BENCHMARKS, "multimnist", {**bench.BENCHMARKS["multimnist"], "batch_size": 4})
    monkeypatch.setenv("AUTOSCALE_RESULTS_ROOT", str(tmp_path / "results"))
    monkeypatch.chdir(tmp_path)
    bench.main(["--quick", "--benchmark", "multimnist", "--methods", "unitary", "imtlg", "--device", "cpu"])
    assert "not written (--out PATH writes it" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_cheap_study_needs_out(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--cheap-study", "--device", "cpu"])
    assert exit_info.value.code == 2
    assert "--cheap-study adds its results to a benchmark file" in capsys.readouterr().err


def test_solver_bench_prints_one_line_per_method_and_size(capsys) -> None:
    from autoscale.bench import solvers

    assert solvers.main(["--device", "cpu", "--sizes", "2", "3", "--methods", "imtlg", "mgda", "--repeats", "1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["method"], r["runs"]) for r in rows] == [("imtlg", 2), ("imtlg", 3), ("mgda", 2), ("mgda", 3)]
    assert [r["tasks"] for r in rows] == [3, 3, 2, 2]  # MGDA's batched solver is the K = 2 closed form
    for row in rows:
        assert row["per_run_over_batched"] == pytest.approx(row["per_run_s"] / row["batched_s"])
