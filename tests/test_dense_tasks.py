"""Dense tasks: losses and split-level metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from autoscale.training.tasks import (
    EdgeTask,
    NormalTask,
    SemanticTask,
    build_tasks,
    depth_task,
    disparity_task,
    instance_task,
)


def one_hot_logits(classes: list[list[int]], num_classes: int) -> torch.Tensor:
    """(1, C, H, W) logits whose argmax is ``classes``."""
    return F.one_hot(torch.tensor([classes]), num_classes).permute(0, 3, 1, 2).float()


def evaluate(task, pred, target) -> dict[str, float]:
    meter = task.meter()
    meter.update(pred, target)
    return meter.compute()


# ---- semantic segmentation ------------------------------------------------------------------


def test_miou_and_pixel_accuracy_by_hand():
    # class 3 occurs in neither prediction nor target; the -1 pixel (predicted 0) is ignored.
    target = torch.tensor([[[0, 0, 1], [1, 2, -1]]])
    pred = one_hot_logits([[0, 1, 1], [1, 2, 0]], 4)
    # IoU_0 = 1 / (2 + 1 - 1), IoU_1 = 2 / (2 + 3 - 2), IoU_2 = 1 / (1 + 1 - 1)
    expected_miou = 100 * (1 / 2 + 2 / 3 + 1) / 3
    got = evaluate(SemanticTask(4), pred, target)
    assert got["miou"] == pytest.approx(expected_miou)
    assert got["pixacc"] == pytest.approx(100 * 4 / 5)


def test_semantic_loss_ignores_unlabelled_pixels():
    task = SemanticTask(4)
    logits = torch.zeros(1, 4, 2, 3)
    logits[0, 2, 1, 2] = 50.0  # a confident wrong guess on the ignored pixel must not count
    target = torch.tensor([[[0, 0, 1], [1, 2, -1]]])
    assert float(task.loss(logits, target)) == pytest.approx(math.log(4))
    assert float(task.loss(logits, torch.full((1, 2, 3), -1))) == 0.0


# ---- masked regression ----------------------------------------------------------------------

DEPTH_PRED = torch.tensor([[[[1.0, 2.0], [4.0, 4.0]]]])
DEPTH_TARGET = torch.tensor([[[[2.0, 0.0], [2.0, 5.0]]]])  # 0 = invalid; errors 1, 2, 1


def test_depth_metrics_skip_invalid_pixels():
    task = depth_task()
    got = evaluate(task, DEPTH_PRED, DEPTH_TARGET)
    assert got["abs"] == pytest.approx(4 / 3)
    assert got["rel"] == pytest.approx((1 / 2 + 2 / 2 + 1 / 5) / 3)
    assert got["rmse"] == pytest.approx(math.sqrt(2))
    assert float(task.loss(DEPTH_PRED, DEPTH_TARGET)) == pytest.approx(4 / 3)
    assert float(task.loss(DEPTH_PRED, torch.zeros_like(DEPTH_TARGET))) == 0.0


def test_disparity_mse_and_abs():
    got = evaluate(disparity_task(), DEPTH_PRED, DEPTH_TARGET)
    assert got == pytest.approx({"mse": 2.0, "abs": 4 / 3})


def test_instance_offsets_masked_l1():
    # pixel 0 is on an instance with offset (2, -1); pixel 1 is background (its offsets are junk)
    target = torch.tensor([[[[1.0, 0.0]], [[2.0, 5.0]], [[-1.0, 7.0]]]])
    pred = torch.tensor([[[[1.0, 0.0]], [[1.0, 0.0]]]])
    task = instance_task()
    assert float(task.loss(pred, target)) == pytest.approx((1 + 2) / 2)
    assert evaluate(task, pred, target) == pytest.approx({"l1": 1.5})


# ---- normals --------------------------------------------------------------------------------


def test_normal_angles_by_hand():
    z = [0.0, 0.0, 1.0]
    target = torch.tensor([z, z, z, z, [0.0, 0.0, 0.0]]).T.reshape(1, 3, 1, 5)
    c, s = math.cos(math.radians(20)), math.sin(math.radians(20))
    # angles 0°, 20°, 45° (not unit length), 90°, and a pixel without ground truth
    pred = torch.tensor([z, [s, 0.0, c], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).T.reshape(1, 3, 1, 5)
    task = NormalTask()
    got = evaluate(task, pred, target)
    assert got["mean"] == pytest.approx((0 + 20 + 45 + 90) / 4, abs=1e-6)
    assert got["median"] == pytest.approx((20 + 45) / 2, abs=0.01)
    assert got["within_11.25"] == pytest.approx(25.0)
    assert got["within_22.5"] == pytest.approx(50.0)
    assert got["within_30"] == pytest.approx(50.0)
    expected_loss = 1 - (1 + c + math.cos(math.radians(45)) + 0) / 4
    assert float(task.loss(pred, target)) == pytest.approx(expected_loss, abs=1e-6)


def test_normal_median_odd_count_matches_numpy():
    torch.manual_seed(0)
    pred, target = torch.randn(1, 3, 7, 9), F.normalize(torch.randn(1, 3, 7, 9), dim=1)
    angles = torch.rad2deg(torch.acos(F.cosine_similarity(pred.double(), target.double(), dim=1))).flatten()
    got = evaluate(NormalTask(), pred, target)
    assert got["median"] == pytest.approx(float(angles.median()), abs=0.005 + 1e-9)
    assert got["mean"] == pytest.approx(float(angles.mean()))


# ---- edges ----------------------------------------------------------------------------------


def test_balanced_bce_by_hand():
    logits = [2.0, -1.0, 0.5, -3.0]
    labels = [1.0, 0.0, 0.0, 0.0]
    pred = torch.tensor(logits).reshape(1, 1, 2, 2)
    target = torch.tensor(labels).reshape(1, 1, 2, 2)
    beta = 3 / 4  # fraction of negatives weighs the positives (HED)
    sig = [1 / (1 + math.exp(-x)) for x in logits]
    pos = -math.log(sig[0])
    neg = -sum(math.log(1 - p) for p in sig[1:])
    task = EdgeTask(balanced=True)
    assert float(task.loss(pred, target)) == pytest.approx((beta * pos + (1 - beta) * neg) / 4, rel=1e-6)
    assert float(EdgeTask().loss(pred, target)) == pytest.approx((pos + neg) / 4, rel=1e-6)  # default: plain BCE
    got = evaluate(task, pred, target)
    assert got["l1"] == pytest.approx(sum(abs(p - y) for p, y in zip(sig, labels, strict=True)) / 4)
    assert got["bce"] == pytest.approx((pos + neg) / 4)


# ---- split-level accumulation ---------------------------------------------------------------


def random_batch(n: int) -> tuple[dict, dict]:
    h, w = 6, 5
    depth = torch.rand(n, 1, h, w) + 0.5
    depth[torch.rand_like(depth) < 0.2] = 0
    normal = F.normalize(torch.randn(n, 3, h, w), dim=1)
    normal[:, :, 0] = 0
    semantic = torch.randint(-1, 5, (n, h, w))
    instance = torch.cat([(torch.rand(n, 1, h, w) < 0.5).float(), 3 * torch.randn(n, 2, h, w)], dim=1)
    targets = {
        "depth": depth,
        "edge": (torch.rand(n, 1, h, w) < 0.2).float(),
        "normal": normal,
        "semantic": semantic,
        "instance": instance,
        "disparity": depth.clone(),
    }
    preds = {
        "depth": torch.rand(n, 1, h, w),
        "edge": torch.randn(n, 1, h, w),
        "normal": F.normalize(torch.randn(n, 3, h, w), dim=1),
        "semantic": torch.randn(n, 5, h, w),
        "instance": torch.randn(n, 2, h, w),
        "disparity": torch.rand(n, 1, h, w),
    }
    return preds, targets


def test_metrics_do_not_depend_on_batching():
    torch.manual_seed(1)
    preds, targets = random_batch(5)
    tasks = build_tasks("scenes-indoor", num_classes=5) + build_tasks("scenes-street", num_classes=5)[1:]
    for task in tasks:
        whole, parts = task.meter(), task.meter()
        whole.update(preds[task.name], targets[task.name])
        for chunk in (slice(0, 1), slice(1, 5)):
            parts.update(preds[task.name][chunk], targets[task.name][chunk])
        assert parts.compute() == pytest.approx(whole.compute()), task.name


# ---- task sets ------------------------------------------------------------------------------

INDOOR = [("depth", "rmse", False), ("edge", "l1", False), ("normal", "mean", False), ("semantic", "miou", True)]
STREET = [("semantic", "miou", True), ("instance", "l1", False), ("disparity", "mse", False)]
EXPECTED = {
    "scenes-indoor": INDOOR,
    "nyuv2": INDOOR,
    "scenes-street": STREET,
    "cityscapes3": STREET,
    "cityscapes": [("semantic", "miou", True), ("depth", "rmse", False)],
}


@pytest.mark.parametrize("benchmark", sorted(EXPECTED))
def test_task_sets_primary_metrics_and_directions(benchmark):
    tasks = build_tasks(benchmark, num_classes=6)
    assert [(t.name, t.primary, t.primary_higher_is_better) for t in tasks] == EXPECTED[benchmark]
    assert next(t for t in tasks if t.name == "semantic").out_channels == 6


def test_default_class_counts_and_task_subsets():
    assert build_tasks("nyuv2", ["semantic"])[0].out_channels == 13
    assert build_tasks("cityscapes", ["semantic"])[0].out_channels == 7
    assert build_tasks("cityscapes3", ["semantic"])[0].out_channels == 19
    assert [t.name for t in build_tasks("nyuv2", ["semantic", "depth", "normal"])] == ["depth", "normal", "semantic"]
    with pytest.raises(ValueError, match="unknown task"):
        build_tasks("cityscapes", ["normal"])


def test_scene_class_counts_come_from_the_renderer():
    from autoscale.training.datasets.scenes import INDOOR_CLASSES, STREET_CLASSES

    assert build_tasks("scenes-indoor", ["semantic"])[0].out_channels == len(INDOOR_CLASSES)
    assert build_tasks("scenes-street", ["semantic"])[0].out_channels == len(STREET_CLASSES)
