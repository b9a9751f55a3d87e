"""Stacked training, device-resident data, the step log and the GPU session script (all on the CPU).

Independent truth: a stacked run must reproduce the same config trained alone by the reference
trainer (to float rounding: the sums are ordered differently), and preloaded batches must be
the DataLoader's batches.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from autoscale.commands import gpu_session
from autoscale.commands.record_commands import import_session
from autoscale.experiments.plans import ls_sweep_plan, stored_sweep_plan
from autoscale.experiments.profiles import profile_config
from autoscale.experiments.runs import run_stack, run_sweep_plan
from autoscale.experiments.store import RunStore, config_hash
from autoscale.training.config import RunConfig
from autoscale.training.device_data import epoch_generator, preload
from autoscale.training.stacked import StackedTrainer, stack_groups
from autoscale.training.step_log import StepLog
from autoscale.training.trainer import train


class Toy(Dataset):
    """Samples whose values are their indices, so any reordering shows."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return torch.full((2, 3), float(i)), {"a": torch.tensor(i), "b": torch.tensor([i, -i])}


@pytest.mark.parametrize(("n", "batch"), [(37, 8), (64, 16), (5, 7)])
def test_preloaded_batches_are_the_dataloaders_batches(n: int, batch: int) -> None:
    data = preload(Toy(n), "cpu", chunk=10)
    for seed, epoch in [(0, 0), (3, 1), (12, 7)]:
        expected = list(DataLoader(Toy(n), batch_size=batch, shuffle=True, generator=epoch_generator(seed, epoch)))
        got = list(data.batches(batch, epoch_generator(seed, epoch)))
        assert len(got) == len(expected) == -(-n // batch)
        for (x, y), (ex, ey) in zip(got, expected, strict=True):
            assert torch.equal(x, ex) and torch.equal(y["a"], ey["a"]) and torch.equal(y["b"], ey["b"])
    in_order = torch.cat([y["a"] for _, y in data.batches(batch)])
    assert torch.equal(in_order, torch.arange(n))


def test_preload_refuses_augmented_data() -> None:
    toy = Toy(4)
    toy.augment = True
    with pytest.raises(ValueError, match="augment"):
        preload(toy, "cpu")


def test_step_log_finds_the_first_non_finite_loss() -> None:
    log = StepLog(torch.device("cpu"))
    for t in range(4):
        losses = torch.tensor([[1.0, 2.0], [3.0, float("nan") if t >= 2 else 4.0]])
        log.add(losses, torch.ones(2, 2), log.timer())
    flushed = log.flush()
    assert flushed.losses.shape == (4, 2, 2) and flushed.times.shape == (4,)
    assert flushed.first_nonfinite == (2, 1, 1)  # step 2, run 1, task 1
    assert len(log) == 0 and log.flush().first_nonfinite is None


def _smoke(benchmark: str, **overrides) -> RunConfig:
    return profile_config(benchmark, "smoke", **overrides)


def assert_same_run(stacked: dict, alone: dict, rtol: float = 1e-4) -> None:
    """Per-step losses and weights (``rtol``), final metrics (10 ``rtol``), same shapes."""
    np.testing.assert_allclose(stacked["steps"]["loss"], alone["steps"]["loss"], rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(stacked["steps"]["weights"], alone["steps"]["weights"], rtol=rtol, atol=rtol)
    for split in ("val", "test"):
        for task, metrics in alone["final"][split].items():
            for name, value in metrics.items():
                expected = pytest.approx(value, rel=10 * rtol, abs=1e-6)
                assert stacked["final"][split][task][name] == expected, (split, task)
    assert stacked["stack"]["size"] >= 1 and len(stacked["steps"]["time_s"]) == len(alone["steps"]["time_s"])


MULTIMNIST_FAMILIES = {
    "fixed and loss-based": [("linear", {"weights": [0.3, 0.7]}, 0), ("uw", {}, 1), ("famo", {}, 2)],
    "gramian": [("imtlg", {}, 0), ("mgda_ub", {}, 1), ("pcgrad", {}, 2)],
    "autoscale": [("autoscale", {"alpha": 0.5, "window": 2}, 0), ("autoscale", {"alpha": 0.5, "window": 2}, 1),
                  ("nashmtl", {}, 2)],
}  # fmt: skip


@pytest.mark.parametrize("family", list(MULTIMNIST_FAMILIES))
def test_a_stacked_run_equals_the_run_trained_alone(family: str) -> None:
    base = _smoke("multimnist", epochs=2, batch_size=32, metrics_every=2)
    base = replace(base, data={"sizes": {"train": 96, "val": 64, "test": 64}})
    configs = [replace(base, method=m, method_options=o, seed=s) for m, o, s in MULTIMNIST_FAMILIES[family]]
    stacked = StackedTrainer(configs, progress=False).run()
    for config, record in zip(configs, stacked, strict=True):
        alone = train(config, progress=False)
        assert_same_run(record, alone)
        assert record["metrics"]["step"] == alone["metrics"]["step"]
        layers = [k for k in alone["metrics"] if k.startswith("layer_cos/")]
        assert layers and layers == [k for k in record["metrics"] if k.startswith("layer_cos/")]
        for key in layers:
            np.testing.assert_allclose(record["metrics"][key], alone["metrics"][key], rtol=1e-4, atol=1e-5)
    autoscale_runs = [r for c, r in zip(configs, stacked, strict=True) if c.method == "autoscale"]
    for record in autoscale_runs:  # each run switched to its own predicted weights
        assert record["method"]["final_weights"] is not None


def test_the_captured_step_equals_the_eager_one() -> None:
    """The stack's forward and backward passes compiled as graphs (``aot_eager``: the graphs
    ``inductor`` would compile, without generated code) give the eager path's losses, weights,
    metrics and final results; the record says it was compiled. A GPU's ``inductor`` kernels round
    differently and are measured by the GPU session's calibration, not here."""
    base = _smoke("multimnist", epochs=2, batch_size=32, metrics_every=2)
    base = replace(base, data={"sizes": {"train": 80, "val": 64, "test": 64}})  # a last batch of 16
    configs = [
        replace(base, method="linear", method_options={"weights": [0.3, 0.7]}, seed=0),
        replace(base, method="imtlg", seed=1),
        replace(base, method="autoscale", method_options={"alpha": 0.5, "window": 2}, seed=2),
    ]
    eager = StackedTrainer(configs, progress=False).run()
    captured = StackedTrainer(configs, progress=False, compile_backend="aot_eager").run()
    for got, expected in zip(captured, eager, strict=True):
        assert_same_run(got, expected, rtol=1e-5)
        for key in ("gms", "cos", "cond"):  # the MTO metrics of the logged steps' Gramians
            np.testing.assert_allclose(got["metrics"][key], expected["metrics"][key], rtol=1e-5, atol=1e-6)
        assert got["stack"]["compiled"] == "aot_eager" and "compiled" not in expected["stack"]


def test_stacked_dense_runs_with_batchnorm_equal_the_runs_alone() -> None:
    base = _smoke("scenes-street", epochs=2)
    configs = [
        replace(base, method="unitary", seed=0),
        replace(base, method="dwa", seed=1),
        replace(base, method="autoscale", method_options={"alpha": 0.5, "window": 2}, seed=2),
    ]
    for config, record in zip(configs, StackedTrainer(configs, progress=False).run(), strict=True):
        # IMTL-G (AutoScale's explorer) solves a linear system in the 3-task Gramian, which
        # amplifies rounding differences of the Gramian: 6e-3 in the weights after 8 steps.
        assert_same_run(record, train(config, progress=False), rtol=1e-4 if config.method != "autoscale" else 2e-2)


def test_stack_groups_groups_compatible_configs_only() -> None:
    base = _smoke("multimnist")
    same = [replace(base, method=m, seed=s) for m in ("unitary", "imtlg") for s in range(3)]
    other_lr = replace(base, lr=0.5)
    cheap = replace(base, method="imtlg", gramian="every:4")
    groups = stack_groups([*same, other_lr, cheap], max_size=4)
    assert [len(g) for g in groups] == [4, 2, 1, 1]
    assert groups[0] + groups[1] == same and groups[2] == [other_lr] and groups[3] == [cheap]
    assert stack_groups(same, max_size=1) == [[c] for c in same]
    with pytest.raises(ValueError, match="may differ only in"):
        StackedTrainer([base, other_lr], progress=False)


def test_precision_is_part_of_the_identity_only_when_set() -> None:
    config = _smoke("multimnist")
    assert "precision" not in config.to_dict()
    bf16 = replace(config, precision="bf16")
    assert bf16.to_dict()["precision"] == "bf16" and config_hash(bf16) != config_hash(config)
    assert RunConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="precision"):
        replace(config, precision="fp8")


def test_the_gpu_session_script_packages_records_that_import(tmp_path: Path, results_root: Path) -> None:
    out = tmp_path / "out"
    args = ["--out", str(out), "--device", "cpu", "--tiny", "--tiers", "1", "--commit", "abc123", "--minutes", "5"]
    assert gpu_session.main(args) == 0
    session = (out / "session.json").read_text()
    assert '"status": "done"' in session and "records-smoke-multimnist.tar.gz" in session
    produced = RunStore(results_root)
    target = RunStore(tmp_path / "imported")
    assert import_session(target, out) == 0
    configs = gpu_session.tier_configs(1, "cpu", tiny=True)
    assert configs
    for config in configs:
        imported = target.load(config)
        assert imported is not None and imported["git_commit"] == "abc123"
        assert target.path(config).read_bytes() == produced.path(config).read_bytes()
    assert set(target.manifest("smoke")) == set(produced.manifest("smoke"))
    kept = list((target.root / "smoke" / "gpu_sessions").glob("*.json"))
    assert len(kept) == 1 and kept[0].read_bytes() == (out / "session.json").read_bytes()
    assert import_session(target, out) == 0, "importing the same folder twice"
    assert list((target.root / "smoke" / "gpu_sessions").glob("*.json")) == kept
    table = gpu_session.session_table(gpu_session.session_files(kept[0].parent))
    row = table.loc[(kept[0].stem, 1)]
    assert row["status"] == "done" and row["runs trained"] == len(configs) and row["runs left"] == 0
    stacks = json.loads(session)["tiers"]["1"]["stacks"]
    assert sum(s["runs"] for s in stacks) == len(configs)
    for stack in stacks:
        assert stack["runs_per_hour"] == pytest.approx(stack["runs"] / stack["seconds"] * 3600)
        assert stack["gpu_util_mean"] is None, "no nvidia-smi here: no utilisation, not a made-up one"
    per_stack = gpu_session.stack_table(gpu_session.session_files(kept[0].parent))
    assert len(per_stack) == len(stacks) and per_stack["finished"].all()
    assert set(per_stack["benchmark"]) == {"multimnist"}
    assert {m for s in stacks for m in s["methods"]} == {c.method for c in configs}


def test_calibration_compares_each_method_with_its_own_single_run() -> None:
    result = gpu_session.calibrate("cpu", seconds=0.3, tiny=True)
    assert set(result) == set(gpu_session.TINY_CALIBRATION)
    single = result["single fp32"]
    assert single["throughput_over_single"] == 1.0 and single["runs"] == 1
    for name, (method, size, _, _) in gpu_session.TINY_CALIBRATION.items():
        row = result[name]
        assert row["method"] == method and row["runs"] == size
        assert row["run_steps_per_s"] == pytest.approx(size / row["step_s"])
    # IMTL-G has no single run in the tiny calibration: it is compared with unitary's.
    imtlg = result["IMTL-G stack of 4 fp32"]
    assert imtlg["throughput_over_single"] == pytest.approx(imtlg["run_steps_per_s"] / single["run_steps_per_s"])


def test_stored_sweep_plan_reads_only_complete_plans(results_root: Path) -> None:
    plan = ls_sweep_plan("multimnist", "smoke")
    store = RunStore(results_root)
    assert stored_sweep_plan(plan, store) is None
    ls, stl = run_sweep_plan(plan, store, progress=False)
    stored = stored_sweep_plan(plan, store)
    assert stored is not None
    assert [[r["config"] for r in part] for part in stored] == [[r["config"] for r in part] for part in (ls, stl)]
    store.path(plan.stl_configs[0]).unlink()
    assert stored_sweep_plan(plan, store) is None


def test_a_stack_stopped_at_its_deadline_resumes_to_the_same_records(tmp_path: Path) -> None:
    base = replace(_smoke("multimnist", epochs=3, batch_size=32), data={"sizes": {"train": 64, "val": 32, "test": 32}})
    configs = [
        replace(base, method="famo", seed=0),
        replace(base, method="autoscale", method_options={"alpha": 0.5, "window": 2}, seed=1),
    ]
    uninterrupted = StackedTrainer(configs, progress=False).run()
    checkpoint = tmp_path / "stack.pt"
    stopped = StackedTrainer(configs, checkpoint_path=checkpoint, progress=False).run(deadline=0.0)
    assert not any(r["complete"] for r in stopped) and len(stopped[0]["epochs"]) == 1 and checkpoint.is_file()
    resumed = StackedTrainer(configs, checkpoint_path=checkpoint, progress=False).run()
    for a, b in zip(resumed, uninterrupted, strict=True):
        assert a["complete"] and a["steps"]["loss"] == b["steps"]["loss"]
        assert a["steps"]["weights"] == b["steps"]["weights"] and a["final"] == b["final"]
        assert json.dumps(a["method"]) == json.dumps(b["method"])  # json: NaN-safe comparison


def test_forced_stack_does_not_resume_an_interrupted_attempt(tmp_path: Path) -> None:
    base = replace(_smoke("multimnist", epochs=2, batch_size=32), data={"sizes": {"train": 64, "val": 32, "test": 32}})
    configs = [replace(base, method="unitary", seed=s) for s in (0, 1)]
    store = RunStore(tmp_path)
    assert run_stack(configs, store, progress=False, deadline=0.0) == [None, None]  # one epoch, checkpoint kept
    resumed_epochs: list[int] = []
    original = StackedTrainer._load_checkpoint

    def spy(self):
        states = original(self)
        resumed_epochs.append(states[0].epoch if states else 0)
        return states

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StackedTrainer, "_load_checkpoint", spy)
        records = run_stack(configs, store, progress=False, force=True)
    assert resumed_epochs == [0] and all(r["complete"] for r in records)
    assert not list((tmp_path / "checkpoints").glob("stack-*.pt"))


def test_one_epoch_loop_drives_a_run_and_a_stack() -> None:
    # One training core: the epoch loop, the flush of the step log and the checkpoint file are the
    # same code for a single run and a stack; only the step, the evaluation and the model's part of
    # the checkpoint differ.
    from autoscale.training.loop import EpochLoop
    from autoscale.training.trainer import Trainer

    for name in ("_train", "_flush", "_save_checkpoint", "_load_checkpoint", "_diverged_message"):
        assert getattr(Trainer, name) is getattr(EpochLoop, name) is getattr(StackedTrainer, name)
    for name in ("_train_epoch", "_evaluate", "_model_state", "_load_model_state"):
        assert getattr(Trainer, name) is not getattr(StackedTrainer, name)
