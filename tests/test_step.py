"""The training step (TrainStep): its Gramians and updates against autograd references, and the cheap Gramian modes."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers import small_cnn
from torch import Tensor, nn

import autoscale.training.step as step_module
from autoscale.bench.steps import synthetic_batch
from autoscale.gramian import last_layer_parameters, naive_gramian, parse_gramian_mode
from autoscale.methods import Weighting
from autoscale.metrics import layer_conflict
from autoscale.training.config import RunConfig
from autoscale.training.models import MultiTaskModel, build_model
from autoscale.training.state import RunState
from autoscale.training.step import TrainStep
from autoscale.training.tasks import ClassificationTask, build_tasks
from autoscale.training.trainer import Trainer

WEIGHTS = (0.3, 1.2, 0.7)


class Recorder(Weighting):
    """Fixed weights; keeps every Gramian it is given."""

    needs_gramian = True

    def __init__(self, num_tasks: int) -> None:
        super().__init__(num_tasks)
        self.gramians: list[Tensor] = []

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        self.gramians.append(gramian)
        return torch.tensor(WEIGHTS[: self.num_tasks], dtype=losses.dtype)


def cnn_model() -> tuple[MultiTaskModel, list, Tensor, dict[str, Tensor]]:
    """A small CNN with BatchNorm and three classification heads, float64."""
    encoder = nn.Sequential(small_cnn(), nn.ReLU())
    names = ["a", "b", "c"]
    model = MultiTaskModel(encoder, {n: nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 5)) for n in names})
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(6, 1, 12, 12, generator=gen, dtype=torch.float64)
    targets = {n: torch.randint(0, 5, (6,), generator=gen) for n in names}
    return model.double(), [ClassificationTask(n) for n in names], x, targets


def scenes_model() -> tuple[MultiTaskModel, list, Tensor, dict[str, Tensor]]:
    """The scenes-street ``small`` model (3 dense tasks), float64, on a synthetic 2x3x64x80 batch."""
    tasks = build_tasks("scenes-street")
    model = build_model("scenes-street", [t.name for t in tasks], arch="small")
    x, targets = synthetic_batch("scenes-street", 2, torch.device("cpu"))
    return (
        model.double(),
        tasks,
        x.double(),
        {k: v.double() if v.is_floating_point() else v for k, v in targets.items()},
    )


MODELS = {"cnn_batchnorm": cnn_model, "scenes_small": scenes_model}


def reference(model: MultiTaskModel, tasks: list, x: Tensor, targets: dict, inputs: str) -> tuple[Tensor, list]:
    """The Gramian by the naive loop over ``inputs`` and the gradients of one backward of Σ w_i L_i."""
    z = model.encoder(x)
    outputs = model.decode(z)
    losses = torch.stack([t.loss(outputs[t.name], targets[t.name]) for t in tasks])
    over = {
        "exact": model.shared_parameters(),
        "last_layer": last_layer_parameters(model.encoder),
        "representation": [z],
    }[inputs]
    gramian = naive_gramian(losses, over)
    model.zero_grad(set_to_none=True)
    (torch.tensor(WEIGHTS[: len(tasks)], dtype=losses.dtype) * losses).sum().backward()
    return gramian, [p.grad.clone() for p in model.parameters()]


def fast_step(
    model: MultiTaskModel, tasks: list, x: Tensor, targets: dict, gramian: str, step: int = 0
) -> tuple[Recorder, list]:
    method = Recorder(len(tasks))
    step_fn = TrainStep(model, tasks, method, torch.optim.SGD(model.parameters(), lr=0.0), gramian=gramian)
    step_fn(x, targets, step, RunState())
    return method, [p.grad.clone() for p in model.parameters()]


def assert_close(actual: Tensor, expected: Tensor) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())


@pytest.mark.parametrize("mode", ["exact", "last_layer", "representation"])
@pytest.mark.parametrize("name", list(MODELS))
def test_gramian_step_matches_reference(name: str, mode: str) -> None:
    torch.manual_seed(0)
    model, tasks, x, targets = MODELS[name]()
    twin = copy.deepcopy(model)
    method, grads = fast_step(model, tasks, x, targets, mode)
    expected_gramian, expected_grads = reference(twin, tasks, x, targets, mode)
    assert expected_gramian.abs().max() > 0
    assert_close(method.gramians[0], expected_gramian)
    assert [g.shape for g in grads] == [g.shape for g in expected_grads]
    # One vector: 1e-5 of the largest gradient entry (a conv bias before BatchNorm has a zero gradient).
    assert_close(torch.cat([g.flatten() for g in grads]), torch.cat([g.flatten() for g in expected_grads]))


def test_last_layer_is_the_last_weight_layer_and_its_norm() -> None:
    model = build_model("scenes-street", [t.name for t in build_tasks("scenes-street")], arch="small")
    fuse = model.encoder.fuse
    assert last_layer_parameters(model.encoder) == [fuse[0].weight, fuse[1].weight, fuse[1].bias]
    lenet = build_model("multimnist", ["left", "right"])
    linear = lenet.encoder.features[8]
    assert last_layer_parameters(lenet.encoder) == [linear.weight, linear.bias]


def test_every_s_computes_the_gramian_only_on_multiples_of_s(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model, tasks, x, targets = cnn_model()
    computed: list[int] = []
    original = TrainStep.task_gradients
    method = Recorder(len(tasks))
    step_fn = TrainStep(model, tasks, method, torch.optim.SGD(model.parameters(), lr=0.1), gramian="every:3")

    def spy(self, *args, **kwargs):
        grads = original(self, *args, **kwargs)
        if grads.split is not None:  # per-task gradients taken: a fresh Gramian
            computed.append(current)
        return grads

    monkeypatch.setattr(TrainStep, "task_gradients", spy)
    state = RunState()
    for current in range(7):
        step_fn(x, targets, current, state)
    assert computed == [0, 3, 6]
    g = method.gramians
    assert g[1] is g[0] and g[2] is g[0] and g[4] is g[3] and g[5] is g[3]
    assert not torch.equal(g[3], g[0])  # the model moved (lr 0.1), so fresh Gramians differ


def test_gramian_mode_validation_lists_the_valid_modes() -> None:
    assert parse_gramian_mode("every:4").every == 4 and parse_gramian_mode("exact").source == "exact"
    for bad in ("every:0", "every", "last-layer", "exact "):
        with pytest.raises(ValueError, match="representation"):
            RunConfig(gramian=bad)


def test_every_s_resumes_with_the_cached_gramian(tmp_path) -> None:
    # Steps 0-3 in epoch 1 (Gramians at 0 and 3), steps 4-5 of phase 1 reuse step 3's after the resume.
    config = RunConfig(
        method="autoscale",
        method_options={"alpha": 0.75, "window": 2},
        gramian="every:3",
        epochs=2,
        batch_size=32,
        data={"sizes": {"train": 128, "val": 32, "test": 32}},
    )
    full = Trainer(config, progress=False).run()
    ckpt = tmp_path / "run.pt"
    Trainer(config, checkpoint_path=ckpt, progress=False).run(stop_after_epochs=1)
    resumed = Trainer(config, checkpoint_path=ckpt, progress=False).run()
    assert resumed["steps"]["weights"] == full["steps"]["weights"]
    assert resumed["method"] == full["method"]


class NoGramian(Weighting):
    """Fixed weights, no Gramian."""

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        return torch.tensor(WEIGHTS[: self.num_tasks], dtype=losses.dtype)


class NonlinearRecorder(Recorder):
    """A Gramian method whose objective is not sum_i w_i L_i (as UW exploring for AutoScale)."""

    def objective(self, losses: Tensor, weights: Tensor) -> Tensor:
        return (weights * losses).sum() + 0.0 * losses.pow(2).sum()


@pytest.mark.parametrize("method_class", [Recorder, NonlinearRecorder, NoGramian])
def test_logged_layer_conflict_comes_from_the_gradients_already_taken(
    method_class: type[Weighting], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logged step of a method that took the exact Gramian makes its per-layer Gramians from the
    same per-task gradients (no more reverse passes); a method without a Gramian takes one set of K
    passes for both the metrics' Gramian and the layers'. Either way the per-layer numbers are those
    of K separate reverse passes, bitwise (the whole-encoder Gramian of a Gramian method comes from
    column views of its Jacobian: equal to float rounding)."""
    model, tasks, x, targets = cnn_model()
    model, x = model.float(), x.float()
    calls = []
    real = step_module.gramians

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(step_module, "gramians", counted)
    method = method_class(len(tasks))
    step_fn = TrainStep(model, tasks, method, torch.optim.SGD(model.parameters(), lr=0.0), metrics_every=1)
    state = RunState()
    step_fn(x, targets, 0, state)
    assert len(calls) == (0 if method.needs_gramian else 1)
    z = model.encoder(x)
    outputs = model.decode(z)
    losses = torch.stack([t.loss(outputs[t.name], targets[t.name]) for t in tasks])
    layers = {name: [model.get_parameter(p) for p in ps] for name, ps in model.layer_parameter_names().items()}
    expected = RunState()
    total, per_layer = real(losses, model.shared_parameters(), layers)
    weights = method.weights(losses, total).double()
    expected.log_metrics(
        0, total.double(), losses.detach().double(), weights, {name: g.double() for name, g in per_layer.items()}
    )
    assert state.metrics.keys() == expected.metrics.keys()
    layer_keys = set(layer_conflict(per_layer))
    assert layer_keys and all(state.metrics[k] == expected.metrics[k] for k in layer_keys)
    for key in state.metrics.keys() - layer_keys:
        assert state.metrics[key] == pytest.approx(expected.metrics[key], rel=1e-5, abs=1e-6), key
