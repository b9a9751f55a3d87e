"""The capacity axis (width multipliers of MultiLeNet and the small dense CNN) and the per-layer
gradient conflict logged with the MTO metrics, against hand-built models and hand-derived values."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from autoscale.gramian import compute_gramian, gramians
from autoscale.metrics import layer_conflict
from autoscale.training.models import build_model
from autoscale.training.models.dense import dense_model
from autoscale.training.models.lenet import multilenet
from autoscale.training.paths import project_folder, results_root


def shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in model.named_parameters()}


def test_multilenet_width_scales_every_hidden_width_and_width_one_is_the_original():
    # Sener & Koltun's MultiLeNet: conv 1->10 (5x5), conv 10->20, linear 320->50; heads 50->50->10.
    original = shapes(multilenet(["l", "r"]))
    assert original["encoder.features.0.weight"] == (10, 1, 5, 5)
    assert original["encoder.features.3.weight"] == (20, 10, 5, 5)
    assert original["encoder.features.8.weight"] == (50, 320)
    assert original["heads.l.0.weight"] == (50, 50) and original["heads.l.3.weight"] == (10, 50)
    double = shapes(multilenet(["l", "r"], width=2.0))
    assert double["encoder.features.0.weight"] == (20, 1, 5, 5)
    assert double["encoder.features.3.weight"] == (40, 20, 5, 5)
    assert double["encoder.features.8.weight"] == (100, 640)
    assert double["heads.l.0.weight"] == (100, 100) and double["heads.l.3.weight"] == (10, 100)
    # Same seed, width 1: the same initial weights as the model built without the option.
    torch.manual_seed(0)
    a = build_model("multimnist", ["l", "r"])
    torch.manual_seed(0)
    b = build_model("multimnist", ["l", "r"], width=1.0)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    with pytest.raises(ValueError, match="width must be positive"):
        multilenet(["l"], width=0.0)


def test_small_dense_width_scales_channels_and_resnets_refuse_it():
    half = dense_model({"seg": 5, "depth": 1}, width=0.5)
    assert half.encoder.out_channels == 32
    s = shapes(half)
    assert s["encoder.quarter.0.0.weight"] == (8, 3, 3, 3)
    assert s["encoder.eighth.2.0.weight"] == (32, 32, 3, 3)
    assert s["encoder.fuse.0.weight"] == (32, 16 + 32, 1, 1)
    assert s["heads.seg.body.0.0.weight"] == (16, 32, 3, 3) and s["heads.seg.body.1.weight"] == (5, 16, 1, 1)
    out = half(torch.zeros(2, 3, 16, 20))
    assert out["seg"].shape == (2, 5, 16, 20)
    full = sum(p.numel() for p in dense_model({"seg": 5}).encoder.parameters())
    double = sum(p.numel() for p in dense_model({"seg": 5}, width=2.0).encoder.parameters())
    assert 3.5 < double / full < 4.1  # conv weights grow with width squared
    with pytest.raises(ValueError, match="small encoder only"):
        dense_model({"seg": 5}, arch="resnet18", width=2.0)


def test_layers_are_the_encoders_convolutions_and_linear_maps_in_order():
    layers = multilenet(["l", "r"]).layer_parameter_names()
    assert layers == {
        "features.0": ["encoder.features.0.weight", "encoder.features.0.bias"],
        "features.3": ["encoder.features.3.weight", "encoder.features.3.bias"],
        "features.8": ["encoder.features.8.weight", "encoder.features.8.bias"],
    }
    # The small dense encoder: 7 convolutions (batch norms are not layers of their own).
    assert len(dense_model({"seg": 5}).layer_parameter_names()) == 7


def test_layer_gramians_split_the_shared_gramian_and_conflict_is_read_per_layer():
    # L1 = a + b, L2 = -a + b: g1 = (1, 1), g2 = (-1, 1). Layer a: cos = -1 (conflict); layer b:
    # cos = +1; over both parameters the gradients are orthogonal (cos 0).
    a = torch.tensor(0.5, requires_grad=True)
    b = torch.tensor(2.0, requires_grad=True)
    losses = torch.stack([a + b, -a + b])
    total, grams = gramians(losses, [a, b], {"a": [a], "b": [b]})
    torch.testing.assert_close(grams["a"], torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
    torch.testing.assert_close(grams["a"] + grams["b"], total)
    torch.testing.assert_close(total, torch.tensor([[2.0, 0.0], [0.0, 2.0]]))
    conflict = layer_conflict(grams)
    assert conflict == {"layer_conflict/a": 1.0, "layer_cos/a": -1.0, "layer_conflict/b": 0.0, "layer_cos/b": 1.0}


def test_layer_gramians_sum_to_the_gramian_of_a_real_encoder():
    torch.manual_seed(1)
    model = multilenet(["l", "r", "x"])
    x = torch.randn(4, 1, 28, 28)
    out = model(x)
    losses = torch.stack([out[t].pow(2).mean() for t in ("l", "r", "x")])
    layers = {n: [model.get_parameter(p) for p in ps] for n, ps in model.layer_parameter_names().items()}
    _, grams = gramians(losses, model.shared_parameters(), layers)
    total = compute_gramian(losses, [p for ps in layers.values() for p in ps])
    torch.testing.assert_close(sum(grams.values()), total, rtol=1e-5, atol=1e-7)


def test_layer_conflict_counts_pairs_and_is_nan_where_undefined():
    # Three tasks, gradients e1, -e1 + e2, e2: cos(1,2) = -1/sqrt2, cos(1,3) = 0, cos(2,3) = 1/sqrt2.
    g = torch.tensor([[1.0, 0.0], [-1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    out = layer_conflict({"l": g @ g.T})
    assert out["layer_conflict/l"] == pytest.approx(1 / 3)
    assert out["layer_cos/l"] == pytest.approx(0.0, abs=1e-12)
    one = layer_conflict({"l": torch.ones(1, 1)})
    assert math.isnan(one["layer_conflict/l"]) and math.isnan(one["layer_cos/l"])
    zero = layer_conflict({"l": torch.zeros(2, 2)})
    assert math.isnan(zero["layer_conflict/l"])


def test_logged_runs_carry_each_layers_conflict(tmp_path):
    from autoscale.experiments.profiles import profile_config
    from autoscale.training.trainer import train

    config = replace(profile_config("multimnist", "smoke", method="unitary"), metrics_every=2)
    record = train(config, progress=False)
    keys = [k for k in record["metrics"] if k.startswith("layer_cos/")]
    assert keys == ["layer_cos/features.0", "layer_cos/features.3", "layer_cos/features.8"]
    steps = len(record["metrics"]["step"])
    for key in keys:
        values = np.asarray(record["metrics"][key], dtype=float)
        assert values.shape == (steps,) and np.all((values >= -1) & (values <= 1))
        share = np.asarray(record["metrics"][key.replace("layer_cos", "layer_conflict")], dtype=float)
        assert np.all((share == 0) | (share == 1))  # two tasks: one pair, conflicting or not
        assert np.array_equal(share == 1, values < 0)


def test_default_folders_are_the_checkouts_from_any_subfolder(tmp_path, monkeypatch):
    checkout = tmp_path / "repo"
    (checkout / "src" / "autoscale").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'autoscale'\n")
    (checkout / "notebooks").mkdir()
    assert project_folder(checkout / "notebooks") == checkout
    assert project_folder(tmp_path) == tmp_path  # outside a checkout: the working directory
    monkeypatch.delenv("AUTOSCALE_RESULTS_ROOT", raising=False)
    monkeypatch.chdir(checkout / "notebooks")
    assert results_root() == checkout / "results"
