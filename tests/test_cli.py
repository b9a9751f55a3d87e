"""The command line runs sweeps and single runs through the run store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoscale.commands.cli import main
from autoscale.experiments.plans import ls_sweep_plan
from autoscale.experiments.store import RunStore


def test_sweep_fills_the_store_and_a_second_call_reuses_it(results_root: Path, capsys: pytest.CaptureFixture):
    assert main(["sweep", "--benchmark", "multimnist", "--profile", "smoke", "--n-weights", "1"]) == 0
    plan = ls_sweep_plan("multimnist", "smoke", n_weights=1)
    store = RunStore()
    paths = [store.path(c) for c in plan.ls_configs + plan.stl_configs]
    assert len(paths) == 3 and all(p.is_file() for p in paths)
    stamps = [p.stat().st_mtime_ns for p in paths]
    assert main(["sweep", "--benchmark", "multimnist", "--profile", "smoke", "--n-weights", "1"]) == 0
    assert [p.stat().st_mtime_ns for p in paths] == stamps
    assert "3 single-task" not in capsys.readouterr().out


def test_train_with_method_options(results_root: Path, capsys: pytest.CaptureFixture):
    assert (
        main(
            [
                "train",
                "--benchmark",
                "multimnist",
                "--profile",
                "smoke",
                "--method",
                "linear",
                "--option",
                "weights=[0.5,1.5]",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    record = json.loads(Path(out["record"]).read_text())
    assert record["config"]["method_options"] == {"weights": [0.5, 1.5]}
    assert set(out["test"]) == {"left", "right"}


def test_bad_arguments():
    with pytest.raises(SystemExit):
        main(["sweep", "--benchmark", "imagenet"])
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        main(["train", "--benchmark", "multimnist", "--profile", "smoke", "--option", "weights"])
