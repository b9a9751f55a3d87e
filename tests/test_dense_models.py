"""Dense models: output formats per benchmark and architecture, weights loading, trainability."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision

from autoscale.training.models import build_model
from autoscale.training.models.dense import DilatedResNet, dense_model
from autoscale.training.tasks import build_tasks, stack_losses

BENCHMARKS = ["scenes-indoor", "scenes-street", "nyuv2", "cityscapes", "cityscapes3"]
CHANNELS = {"depth": 1, "edge": 1, "normal": 3, "instance": 2, "disparity": 1}


def expected_shape(name: str, num_classes: int, n: int, h: int, w: int) -> tuple[int, ...]:
    if name == "semantic":
        return (n, num_classes, h, w)
    return (n, CHANNELS[name], h, w)


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_small_model_outputs_every_task_at_input_resolution(benchmark):
    names = [t.name for t in build_tasks(benchmark, num_classes=5)]
    model = build_model(benchmark, names, num_classes=5).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 80))
    assert list(out) == names
    for name, pred in out.items():
        assert pred.shape == expected_shape(name, 5, 2, 64, 80), name


def test_small_model_default_class_count_comes_from_the_tasks():
    model = build_model("cityscapes3", ["semantic", "disparity"]).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32))
    assert out["semantic"].shape == (1, 19, 32, 32)
    assert set(out) == {"semantic", "disparity"}


def test_resnet18_outputs_and_unit_normals():
    names = ["depth", "edge", "normal", "semantic"]
    model = build_model("nyuv2", names, arch="resnet18").eval()
    with torch.no_grad():
        representation = model.encoder(torch.randn(2, 3, 32, 40))
        out = model.decode(representation)
    assert representation.shape == (2, 512, 4, 5)  # output stride 8
    for name in names:
        assert out[name].shape == expected_shape(name, 13, 2, 32, 40)
    assert torch.allclose(out["normal"].norm(dim=1), torch.ones(2, 32, 40), atol=1e-5)


def test_small_normal_head_is_unit_length():
    model = dense_model({"normal": 3})
    out = model(torch.randn(2, 3, 16, 24))["normal"]
    assert torch.allclose(out.norm(dim=1), torch.ones(2, 16, 24), atol=1e-5)


def test_input_size_must_match_output_stride():
    with pytest.raises(ValueError, match="divisible"):
        dense_model({"depth": 1})(torch.randn(1, 3, 30, 32))


def test_pretrained_weights_only_from_a_local_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        dense_model({"depth": 1}, arch="resnet18", pretrained=str(tmp_path / "missing.pth"))
    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "r18.pth")
    model = dense_model({"depth": 1}, arch="resnet18", pretrained=str(tmp_path / "r18.pth"))
    assert torch.equal(model.encoder.trunk[0].weight, reference.conv1.weight)
    with pytest.raises(ValueError, match="unknown architecture"):
        dense_model({"depth": 1}, arch="vgg16")


def test_shared_and_task_parameters_partition_the_model():
    model = dense_model({"depth": 1, "semantic": 4})
    shared, specific = model.shared_parameters(), model.task_parameters()
    assert len(shared) + len(specific) == len(list(model.parameters()))
    assert {id(p) for p in shared}.isdisjoint(id(p) for p in specific)


def test_small_model_trains_on_a_fixed_batch():
    torch.manual_seed(0)
    tasks = build_tasks("scenes-indoor", num_classes=4)
    model = build_model("scenes-indoor", [t.name for t in tasks], num_classes=4)
    n, h, w = 4, 32, 32
    images = torch.randn(n, 3, h, w)
    targets = {
        "depth": torch.rand(n, 1, h, w) + 1.0,
        "edge": (torch.rand(n, 1, h, w) < 0.1).float(),
        "normal": F.normalize(torch.randn(n, 3, h, w), dim=1),
        "semantic": torch.randint(0, 4, (n, h, w)),
    }
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    totals = []
    for _ in range(15):
        total = stack_losses(tasks, model(images), targets).sum()
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        totals.append(float(total.detach()))
    assert all(torch.isfinite(torch.tensor(totals)))
    assert totals[-1] < 0.8 * totals[0]


def test_dilation_matches_torchvision_replace_stride_with_dilation():
    def geometry(modules):
        return [(m.stride, m.dilation, m.padding) for m in modules if isinstance(m, torch.nn.Conv2d)]

    ref = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True])
    ours = DilatedResNet(50)
    assert geometry(ours.modules()) == geometry(m for m in ref.modules() if m is not ref.fc)
