"""The trainer: learning happens, resume reproduces an uninterrupted run, bad input stops cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autoscale.training.config import CorruptCheckpoint, RunConfig, TrainingDiverged
from autoscale.training.tasks import ClassificationTask
from autoscale.training.trainer import Trainer, train

TINY = {"sizes": {"train": 384, "val": 128, "test": 128}}


def tiny(**overrides) -> RunConfig:
    fields = {"epochs": 3, "batch_size": 32, "lr": 5e-3, "data": TINY}
    fields.update(overrides)
    return RunConfig(**fields)


def test_loss_decreases_and_record_is_complete():
    record = train(tiny(), progress=False)
    losses = [sum(e["train_loss"].values()) for e in record["epochs"]]
    assert losses[-1] < losses[0] * 0.9
    assert record["complete"] and len(record["epochs"]) == 3
    assert record["total_steps"] == 3 * 12 == len(record["steps"]["loss"]) == len(record["steps"]["time_s"])
    assert set(record["final"]["test"]) == {"left", "right"}
    assert record["tasks"]["left"] == {"primary": "acc", "higher_is_better": {"acc": True, "ce": False}}
    assert all(w == [1.0, 1.0] for w in record["steps"]["weights"])


def deterministic_part(record: dict) -> dict:
    return {
        "epochs": record["epochs"],
        "loss": record["steps"]["loss"],
        "weights": record["steps"]["weights"],
        "method": record["method"],
        "metrics": record["metrics"],
    }


def test_resume_gives_the_same_record_as_an_uninterrupted_run(tmp_path: Path):
    config = tiny(method="linear", method_options={"weights": [0.5, 1.5]}, model={"dropout": 0.2})
    full = Trainer(config, progress=False).run()
    ckpt = tmp_path / "run.pt"
    partial = Trainer(config, checkpoint_path=ckpt, progress=False).run(stop_after_epochs=1)
    assert not partial["complete"] and ckpt.is_file()
    resumed = Trainer(config, checkpoint_path=ckpt, progress=False).run()
    assert resumed["complete"]
    assert deterministic_part(resumed) == deterministic_part(full)


def test_checkpoint_of_another_config_is_refused(tmp_path: Path):
    ckpt = tmp_path / "run.pt"
    Trainer(tiny(epochs=1), checkpoint_path=ckpt, progress=False).run()
    with pytest.raises(CorruptCheckpoint, match="different config"):
        Trainer(tiny(epochs=1, lr=1e-2), checkpoint_path=ckpt, progress=False).run()


def test_nan_loss_stops_before_the_step_and_names_the_task(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    original = ClassificationTask.loss

    def poisoned(self, pred, target):
        loss = original(self, pred, target)
        return loss * float("nan") if self.name == "right" else loss

    trainer = Trainer(tiny(epochs=1), checkpoint_path=tmp_path / "c.pt", progress=False)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    monkeypatch.setattr(ClassificationTask, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match="right") as err:
        trainer.run()
    assert "checkpoint" in str(err.value)
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))


def test_single_task_run_has_one_head():
    record = train(tiny(epochs=1, tasks=["right"]), progress=False)
    assert list(record["tasks"]) == ["right"] and set(record["final"]["val"]) == {"right"}


def test_bad_config_errors_list_valid_values():
    with pytest.raises(ValueError, match="unitary"):
        RunConfig(method="not-a-method")
    with pytest.raises(ValueError, match="adam"):
        RunConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="valid keys"):
        RunConfig.from_dict({"benchmark": "multimnist", "learning_rate": 0.1})
    with pytest.raises(ValueError, match="left"):
        Trainer(tiny(tasks=["middle"]), progress=False)
    with pytest.raises(ValueError, match="weights"):
        Trainer(tiny(method="linear", method_options={"weights": [1.0]}), progress=False)
