"""Checkpoints are loaded with ``torch.load(weights_only=True)``: a file found where a run's checkpoint
is looked for (a PBT exploit copies them between members) can hold tensors and plain values but
cannot run code, and every method's state still resumes exactly."""

from __future__ import annotations

import contextlib
import inspect
import pickle
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from autoscale.experiments.execute import run
from autoscale.experiments.pbt import _transplant
from autoscale.experiments.store import RecordWarning, RunStore
from autoscale.methods import available_methods, build_method, method_class
from autoscale.methods.base import Weighting
from autoscale.training.config import CorruptCheckpoint, RunConfig
from autoscale.training.files import load_checkpoint, save_checkpoint
from autoscale.training.stacked import StackedTrainer
from autoscale.training.trainer import Trainer

TINY = {"sizes": {"train": 64, "val": 32, "test": 32}}


def tiny(**overrides) -> RunConfig:
    """12 steps: 3 epochs of 4 batches."""
    fields = {"epochs": 3, "batch_size": 16, "lr": 5e-3, "data": TINY}
    fields.update(overrides)
    return RunConfig(**fields)


class Payload:
    """What an attacker pickles: unpickling calls ``exec`` on code that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable, tuple[str]]:
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def plant(path: Path, marker: Path, how: str) -> None:
    """A malicious checkpoint at ``path``: torch's zip format (as ``torch.save`` writes it, around a
    real-looking checkpoint) or a bare pickle (torch.load reads it as its legacy format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "torch.save":
        torch.save({"config": {}, "model": {"w": torch.zeros(2)}, "state": Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps({"state": Payload(marker)}))


FORMATS = ("torch.save", "pickle")


@pytest.mark.parametrize("how", FORMATS)
def test_the_planted_file_runs_code_when_loaded_unsafely(tmp_path: Path, how: str) -> None:
    """The payload of the tests below is real: the old ``weights_only=False`` loading ran it."""
    plant(tmp_path / "run.pt", tmp_path / "marker", how)
    # A bare pickle runs when torch reads what it takes for its legacy header, then fails as corrupt.
    with warnings.catch_warnings(), contextlib.suppress(RuntimeError):
        warnings.simplefilter("ignore")  # torch notes the pickle protocol it did not expect
        torch.load(tmp_path / "run.pt", weights_only=False)
    assert (tmp_path / "marker").exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch, reading the bare pickle
@pytest.mark.parametrize("how", FORMATS)
def test_load_checkpoint_refuses_code_and_names_the_file(tmp_path: Path, how: str) -> None:
    path, marker = tmp_path / "run.pt", tmp_path / "marker"
    plant(path, marker, how)
    with pytest.raises(CorruptCheckpoint) as err:
        load_checkpoint(path, "cpu")
    assert not marker.exists()
    assert err.value.path == path
    assert str(path) in str(err.value) and "delete it to retrain from scratch" in str(err.value)


@pytest.mark.parametrize("trainer", ["single", "stacked"])
def test_trainers_refuse_a_planted_checkpoint(tmp_path: Path, trainer: str) -> None:
    path, marker = tmp_path / "run.pt", tmp_path / "marker"
    plant(path, marker, "torch.save")
    config = tiny(epochs=1)
    with pytest.raises(CorruptCheckpoint, match="delete it to retrain from scratch") as err:
        if trainer == "single":
            Trainer(config, checkpoint_path=path, progress=False).run()
        else:
            StackedTrainer([config, tiny(epochs=1, seed=1)], checkpoint_path=path, progress=False).run()
    assert err.value.path == path and not marker.exists()


def test_a_run_moves_a_planted_checkpoint_aside_and_trains_from_the_start(results_root: Path) -> None:
    """What ``python -m autoscale train`` does when its checkpoint is refused (autoscale.experiments.execute)."""
    config = tiny(epochs=1)
    store = RunStore(results_root)
    marker = results_root / "marker"
    plant(store.checkpoint_path(config), marker, "torch.save")
    with pytest.warns(RecordWarning, match="delete it to retrain from scratch"):
        record = run(config, store, progress=False)
    assert record["complete"] and not marker.exists()
    checkpoint = store.checkpoint_path(config)
    assert not checkpoint.exists() and len(list(checkpoint.parent.glob(f"{checkpoint.stem}.corrupt-*"))) == 1


def test_pbt_exploit_refuses_a_planted_donor(tmp_path: Path) -> None:
    donor, target, marker = tmp_path / "donor.pt", tmp_path / "member" / "trainer.pt", tmp_path / "marker"
    plant(donor, marker, "torch.save")
    with pytest.raises(CorruptCheckpoint, match=re.escape(str(donor))):
        _transplant(donor, target, tiny(method="linear", method_options={"weights": [1.0, 1.0]}))
    assert not marker.exists() and not target.exists()


def test_checkpoints_hold_numpy_values_as_exact_lists(tmp_path: Path) -> None:
    """numpy arrays and scalars (AutoScale's window and predicted weights) are stored as lists and
    numbers with every bit kept; containers without any keep their type (a module's state_dict its
    ``_metadata``)."""
    values = np.random.default_rng(0).standard_normal(5)
    model = nn.BatchNorm1d(3).state_dict()
    save_checkpoint(
        tmp_path / "c.pt", {"model": model, "method": {"window": [values], "final": values[:2], "x": values[0]}}
    )
    loaded = load_checkpoint(tmp_path / "c.pt", "cpu")
    assert loaded["method"]["window"] == [values.tolist()] and loaded["method"]["final"] == values[:2].tolist()
    assert type(loaded["method"]["x"]) is float and loaded["method"]["x"] == values[0]
    assert isinstance(loaded["model"], OrderedDict) and loaded["model"]._metadata == model._metadata


# -- every method's state through a checkpoint file ---------------------------------------------


def drive(method: Weighting, step: int) -> Tensor:
    """One step of a training loop with deterministic, changing losses and Gramian."""
    k = method.num_tasks
    generator = torch.Generator().manual_seed(step)
    losses = torch.rand(k, generator=generator, dtype=torch.float64) + 0.1
    jacobian = torch.randn(k, 6, generator=generator, dtype=torch.float64)
    w = method.weights(losses, jacobian @ jacobian.T if method.needs_gramian else None)
    if method.needs_post_step_losses:
        method.post_step(0.9 * losses)
    method.epoch_end(losses)
    return w


CASES = [pytest.param(name, {}, 3, id=name) for name in available_methods()] + [
    # switched: the predicted weights and the window weights are numpy arrays
    pytest.param("autoscale", {}, 5, id="autoscale-switched"),
    pytest.param("autoscale", {"predictor": "linear_follow"}, 5, id="autoscale-lines"),  # the fitted lines too
    pytest.param("autoscale", {"explore": "famo"}, 3, id="autoscale-famo"),  # an explorer with an optimiser
]


@pytest.mark.parametrize(("name", "extra", "saved_after"), CASES)
def test_method_state_resumes_exactly_through_a_checkpoint_file(
    tmp_path: Path, name: str, extra: dict, saved_after: int
) -> None:
    """``saved_after`` steps, the state saved and loaded as the trainers do, 8 steps in all: a new
    instance (another seed where the method takes one) must give exactly the same weights."""
    spec = method_class(name).properties
    options = {**spec.options(3), **spec.state_options, **extra}
    original = build_method(name, 3, **options)
    for step in range(saved_after):
        drive(original, step)
    save_checkpoint(tmp_path / "c.pt", {"method": original.state_dict()})
    expected = [drive(original, step) for step in range(saved_after, 8)]
    if "seed" in inspect.signature(method_class(name)).parameters:
        options["seed"] = 12345  # the generator's state must come from the checkpoint
    restored = build_method(name, 3, **options)
    restored.load_state_dict(load_checkpoint(tmp_path / "c.pt", "cpu")["method"])
    for step, w in enumerate(expected, start=saved_after):
        assert torch.equal(drive(restored, step), w), (step, w)


def test_an_autoscale_run_resumes_to_the_record_of_an_uninterrupted_run(tmp_path: Path) -> None:
    """Stopped in the exploration (window weights saved) and after the switch (predicted line saved)."""
    config = tiny(method="autoscale", method_options={"alpha": 0.5, "window": 2, "predictor": "linear_follow"})
    full = Trainer(config, progress=False).run()
    path = tmp_path / "run.pt"
    for _ in range(2):
        assert not Trainer(config, checkpoint_path=path, progress=False).run(stop_after_epochs=1)["complete"]
    resumed = Trainer(config, checkpoint_path=path, progress=False).run()
    assert resumed["complete"]
    for key in ("epochs", "method", "metrics", "final"):
        assert resumed[key] == full[key], key
    assert resumed["steps"]["loss"] == full["steps"]["loss"] and resumed["steps"]["weights"] == full["steps"]["weights"]
