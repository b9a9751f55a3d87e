"""Task definitions: loss, metric accumulation over a whole split, primary metric and direction.

Metrics are accumulated over the whole split (sums of counts / errors), never averaged over
per-batch averages, so that they do not depend on the batch size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from autoscale.benchmarks import benchmark as declared_benchmark


class Meter:
    """Accumulates one task's metrics over a split: ``update`` per batch, ``compute`` at the end."""

    def update(self, pred: Tensor, target: Tensor) -> None:
        raise NotImplementedError

    def compute(self) -> dict[str, float]:
        raise NotImplementedError


@dataclass
class Task:
    """One task of a benchmark.

    ``higher_is_better`` maps every metric the meter reports to its direction; ``primary`` is the
    metric used in tables and Δm (the paper's Sec. 5).
    """

    name: str
    primary: str
    higher_is_better: dict[str, bool] = field(default_factory=dict)

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def meter(self) -> Meter:
        raise NotImplementedError

    @property
    def primary_higher_is_better(self) -> bool:
        return self.higher_is_better[self.primary]


class AccuracyMeter(Meter):
    """Top-1 accuracy (percent) and mean cross-entropy over the split.

    The sums stay on the predictions' device (int64 counts, float64 loss sum: the same numbers as
    accumulating Python ints and floats) and are read once in :meth:`compute`, so that evaluating on
    a GPU does not wait for the device after every batch.
    """

    def __init__(self) -> None:
        self.correct: Tensor | int = 0
        self.total = 0
        self.loss_sum: Tensor | float = 0.0

    def update(self, pred: Tensor, target: Tensor) -> None:
        self.correct = self.correct + (pred.argmax(dim=1) == target).sum()
        self.total += target.numel()
        self.loss_sum = self.loss_sum + F.cross_entropy(pred, target, reduction="sum").double()

    def compute(self) -> dict[str, float]:
        if self.total == 0:
            raise ValueError("no samples were evaluated")
        return {"acc": 100.0 * int(self.correct) / self.total, "ce": float(self.loss_sum) / self.total}


class ClassificationTask(Task):
    """Image classification: cross-entropy loss; accuracy in percent (primary, higher is better)."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, primary="acc", higher_is_better={"acc": True, "ce": False})

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(pred, target)

    def meter(self) -> Meter:
        return AccuracyMeter()


def build_tasks(benchmark: str, names: list[str] | None = None, **options: Any) -> list[Task]:
    """The tasks of ``benchmark``, optionally restricted to ``names`` (in the benchmark's order).

    ``options`` go to the benchmark's task-set builder (e.g. ``num_classes`` for segmentation).
    """
    tasks = declared_benchmark(benchmark).tasks(**options)
    if names is None:
        return tasks
    known = [t.name for t in tasks]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"unknown task(s) {unknown or names} for {benchmark!r}; its tasks are {known}")
    return [t for t in tasks if t.name in names]


def stack_losses(tasks: list[Task], outputs: dict[str, Tensor], targets: dict[str, Tensor]) -> Tensor:
    """Per-task losses as one (K,) tensor, in the order of ``tasks``."""
    return torch.stack([t.loss(outputs[t.name], targets[t.name]) for t in tasks])


# --------------------------------------------------------------------------------------------
# Dense prediction (scenes-indoor / nyuv2, scenes-street / cityscapes3, cityscapes).
#
# Conventions follow the official NYUv2 / CityScapes code of MTAN (lorenmt/mtan, utils.py),
# LibMTL (examples/nyu/utils.py), Auto-Lambda and Nash-MTL, which share one implementation:
# CE with ignore index -1, L1 depth loss on pixels with non-zero depth, 1 - cosine normal loss,
# mIoU from a confusion matrix, normal angle statistics in degrees. Unlike those scripts, every
# metric here is pooled over all valid pixels of the split (sums and counts), so it does not
# depend on the batch size. Targets and predictions have these shapes:
# semantic (B,H,W) int64 with -1 = ignore; depth / disparity (B,1,H,W) with 0 = invalid;
# normal (B,3,H,W) with all-zero = invalid; edge (B,1,H,W) in {0,1}; instance (B,3,H,W) =
# (valid mask, dy, dx).
# --------------------------------------------------------------------------------------------

# Median normal angles come from a histogram of angles rounded to this bin width, so the
# reported median is within half a bin (0.005°) of the exact median over the split.
ANGLE_BIN_DEG = 0.01
NORMAL_THRESHOLDS_DEG = (11.25, 22.5, 30.0)


def masked_mean(values: Tensor, valid: Tensor) -> Tensor:
    """Σ_valid values / #valid, and 0 (still differentiable) when nothing is valid.

    Uses ``where`` rather than boolean indexing so a training step needs no host-device sync.
    """
    return torch.where(valid, values, 0.0).sum() / valid.sum().clamp(min=1)


class DenseTask(Task):
    """A per-pixel task; its head predicts ``out_channels`` channels at the input resolution."""

    def __init__(self, name: str, primary: str, higher_is_better: dict[str, bool], out_channels: int) -> None:
        super().__init__(name=name, primary=primary, higher_is_better=higher_is_better)
        self.out_channels = out_channels


# ---- semantic segmentation ------------------------------------------------------------------


class ConfusionMeter(Meter):
    """Confusion matrix over the split → mIoU and pixel accuracy (percent).

    IoU_c = TP_c / (TP_c + FP_c + FN_c), pixel accuracy = sum_c TP_c / #labelled pixels; pixels
    labelled -1 (or ≥ C) are ignored. MTAN / LibMTL average IoU over all C classes with
    ``torch.mean``, so a class absent from both prediction and target (0/0) makes their mIoU NaN;
    here such classes are left out of the mean (identical whenever every class occurs, as on
    the full NYUv2 / CityScapes test splits; defined on small procedural splits).
    """

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: Tensor, target: Tensor) -> None:
        n = self.num_classes
        labels = target.reshape(-1)
        guesses = pred.detach().argmax(dim=1).reshape(-1)
        valid = (labels >= 0) & (labels < n)
        # row = true class, column = predicted class; invalid pixels go to an extra bin that is
        # dropped (boolean indexing would make the host wait for the device every batch).
        cells = torch.bincount(torch.where(valid, n * labels + guesses, n * n), minlength=n * n + 1)[: n * n]
        self.matrix = self.matrix.to(cells.device) + cells.reshape(n, n)

    def compute(self) -> dict[str, float]:
        h = self.matrix.cpu().double()
        if h.sum() == 0:
            raise ValueError("no labelled pixels were evaluated")
        tp = h.diag()
        union = h.sum(0) + h.sum(1) - tp
        present = union > 0
        return {
            "miou": 100.0 * float((tp[present] / union[present]).mean()),
            "pixacc": 100.0 * float(tp.sum() / h.sum()),
        }


class SemanticTask(DenseTask):
    """Semantic segmentation: cross-entropy over labelled pixels (ignore index -1); mIoU ↑ primary."""

    def __init__(self, num_classes: int, name: str = "semantic") -> None:
        super().__init__(name, "miou", {"miou": True, "pixacc": True}, out_channels=num_classes)

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return masked_mean(F.cross_entropy(pred, target, ignore_index=-1, reduction="none"), target >= 0)

    def meter(self) -> Meter:
        return ConfusionMeter(self.out_channels)


# ---- masked regression: depth, disparity, instance offsets ----------------------------------

# A target splitter maps a target tensor to (values shaped like the prediction, boolean mask of
# the valid entries of those values).
TargetSplit = Callable[[Tensor], tuple[Tensor, Tensor]]


def zero_is_invalid(target: Tensor) -> tuple[Tensor, Tensor]:
    """Depth / disparity maps: 0 marks a pixel without ground truth (MTAN: ``sum(gt, dim=1) != 0``)."""
    return target, target != 0


def instance_offsets(target: Tensor) -> tuple[Tensor, Tensor]:
    """Instance targets (mask, dy, dx) → the offsets and their validity (pixels on an instance)."""
    offsets = target[:, 1:3]
    return offsets, (target[:, :1] > 0).expand_as(offsets)


class MaskedErrorMeter(Meter):
    """Errors e = pred - target pooled over all valid entries n of the split.

    abs = l1 = Σ|e| / n, rel = Σ(|e| / target) / n, mse = Σe² / n, rmse = √mse. (Pooled RMSE,
    not a mean of per-image RMSEs.) Only the requested ``metrics`` are reported.
    """

    def __init__(self, split: TargetSplit, metrics: tuple[str, ...]) -> None:
        self.split = split
        self.metrics = metrics
        self.count = 0
        self.abs_sum = self.sq_sum = self.rel_sum = 0.0

    def update(self, pred: Tensor, target: Tensor) -> None:
        values, valid = self.split(target)
        truth = values[valid].double()
        err = (pred.detach()[valid].double() - truth).abs()
        self.count += int(valid.sum())
        self.abs_sum += float(err.sum())
        self.sq_sum += float(err.square().sum())
        if "rel" in self.metrics:  # only depth asks for it; offsets can be exactly 0
            self.rel_sum += float((err / truth).sum())

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("no valid pixels were evaluated")
        mean_abs, mse = self.abs_sum / self.count, self.sq_sum / self.count
        values = {"abs": mean_abs, "l1": mean_abs, "rel": self.rel_sum / self.count, "mse": mse, "rmse": math.sqrt(mse)}
        return {m: values[m] for m in self.metrics}


class MaskedRegressionTask(DenseTask):
    """Per-pixel regression with a masked L1 loss: Σ_valid |pred - target| / #valid entries.

    The loss is MTAN's / LibMTL's depth loss; we use it for disparity and instance offsets too
    (L1 regression of offsets as in Kendall et al., CVPR 2018). All metrics are lower-is-better.
    """

    def __init__(
        self, name: str, out_channels: int, split: TargetSplit, metrics: tuple[str, ...], primary: str
    ) -> None:
        super().__init__(name, primary, dict.fromkeys(metrics, False), out_channels=out_channels)
        self.split = split
        self.metrics = metrics

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        values, valid = self.split(target)
        return masked_mean((pred - values).abs(), valid)

    def meter(self) -> Meter:
        return MaskedErrorMeter(self.split, self.metrics)


def depth_task() -> MaskedRegressionTask:
    """Depth: abs err, rel err (MTAN's metrics) and RMSE (primary), on depth ≠ 0."""
    return MaskedRegressionTask("depth", 1, zero_is_invalid, ("abs", "rel", "rmse"), primary="rmse")


def disparity_task() -> MaskedRegressionTask:
    """Disparity: masked L1 loss; MSE (primary, the paper's CityScapes column) and abs err, on disparity ≠ 0."""
    return MaskedRegressionTask("disparity", 1, zero_is_invalid, ("mse", "abs"), primary="mse")


def instance_task() -> MaskedRegressionTask:
    """Instance centre offsets (dy, dx) in pixels: L1 per coordinate over pixels on an instance (primary)."""
    return MaskedRegressionTask("instance", 2, instance_offsets, ("l1",), primary="l1")


# ---- surface normals ------------------------------------------------------------------------


def _cosines(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Per-pixel cos(pred, target), (B,H,W), and validity: the target normal is not all-zero.

    MTAN / LibMTL test ``sum(gt) != 0``; testing every component is the same for real normals
    and cannot drop a unit vector whose components happen to sum to 0.
    """
    return F.cosine_similarity(pred, target, dim=1), (target != 0).any(dim=1)


class NormalMeter(Meter):
    """Angular error θ = acos(cos(pred, target)) in degrees over all valid pixels of the split.

    Reports mean, median and the percentage of pixels with θ < 11.25°, 22.5°, 30° (strict, as
    MTAN). The median is read from a histogram of θ rounded to ``ANGLE_BIN_DEG`` (midpoint of the
    two middle ranks for an even count, as ``np.median``), which keeps memory constant.
    """

    def __init__(self) -> None:
        self.count = 0
        self.angle_sum = 0.0
        self.within = [0] * len(NORMAL_THRESHOLDS_DEG)
        self.histogram = torch.zeros(round(180.0 / ANGLE_BIN_DEG) + 1, dtype=torch.int64)

    def update(self, pred: Tensor, target: Tensor) -> None:
        cos, valid = _cosines(pred.detach().double(), target.double())
        cos = cos[valid].clamp(-1.0, 1.0)
        angles = torch.rad2deg(torch.acos(cos)).cpu()
        self.count += angles.numel()
        self.angle_sum += float(angles.sum())
        for i, limit in enumerate(NORMAL_THRESHOLDS_DEG):
            self.within[i] += int((angles < limit).sum())
        bins = torch.round(angles / ANGLE_BIN_DEG).long()
        self.histogram += torch.bincount(bins, minlength=self.histogram.numel())

    def _median(self) -> float:
        cumulative = self.histogram.cumsum(0)
        middle = torch.tensor([(self.count - 1) // 2, self.count // 2])
        bins = torch.searchsorted(cumulative, middle, right=True)
        return float(bins.double().mean()) * ANGLE_BIN_DEG

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("no valid pixels were evaluated")
        within = {
            f"within_{t:g}": 100.0 * n / self.count for t, n in zip(NORMAL_THRESHOLDS_DEG, self.within, strict=True)
        }
        return {"mean": self.angle_sum / self.count, "median": self._median(), **within}


class NormalTask(DenseTask):
    """Surface normals: loss 1 - mean cosine over valid pixels (MTAN); mean angle ↓ primary."""

    def __init__(self, name: str = "normal") -> None:
        directions = {"mean": False, "median": False} | {f"within_{t:g}": True for t in NORMAL_THRESHOLDS_DEG}
        super().__init__(name, "mean", directions, out_channels=3)

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return 1.0 - masked_mean(*_cosines(pred, target))

    def meter(self) -> Meter:
        return NormalMeter()


# ---- edges ----------------------------------------------------------------------------------


class EdgeMeter(Meter):
    """Edge maps over all pixels of the split: l1 = Σ|σ(pred) - target| / N and plain (unweighted)
    binary cross-entropy bce = Σ BCE(σ(pred), target) / N."""

    def __init__(self) -> None:
        self.count = 0
        self.l1_sum = self.bce_sum = 0.0

    def update(self, pred: Tensor, target: Tensor) -> None:
        logits = pred.detach().double()
        truth = target.double()
        self.count += target.numel()
        self.l1_sum += float((torch.sigmoid(logits) - truth).abs().sum())
        self.bce_sum += float(F.binary_cross_entropy_with_logits(logits, truth, reduction="sum"))

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("no pixels were evaluated")
        return {"l1": self.l1_sum / self.count, "bce": self.bce_sum / self.count}


class EdgeTask(DenseTask):
    """Edge detection: binary cross-entropy on the edge map; primary metric the L1 between σ(pred)
    and the edge map (↓), as in the paper's NYUv2 table.

    Default loss: plain (unweighted) BCE, whose minimiser is the calibrated edge probability, so
    the L1 metric measures the predictions the loss asks for. ``balanced=True`` gives the
    class-balanced BCE of HED (Xie & Tu, ICCV 2015, eq. 2; MTI-Net's ``BalancedCrossEntropyLoss``):
    loss = (β Σ_{y=1} -log σ(x) + (1-β) Σ_{y=0} -log(1-σ(x))) / N with β = #negatives / N per
    batch. It is the edge-detection convention but pushes σ(pred) towards 0.5 on the rare edge
    pixels' neighbourhoods, which inflates the L1 metric (measured: edge L1 stalled at 0.33 while
    the other tasks learned), so it is not the default here.
    """

    def __init__(self, name: str = "edge", balanced: bool = False) -> None:
        super().__init__(name, "l1", {"l1": False, "bce": False}, out_channels=1)
        self.balanced = balanced

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        if not self.balanced:
            return F.binary_cross_entropy_with_logits(pred, target)
        positive = target > 0.5
        beta = 1.0 - positive.float().mean()
        weight = torch.where(positive, beta, 1.0 - beta)
        return F.binary_cross_entropy_with_logits(pred, target, weight=weight)

    def meter(self) -> Meter:
        return EdgeMeter()


# ---- task sets shared by benchmarks (autoscale.benchmarks) ------------------------------------


def indoor_tasks(num_classes: int) -> list[Task]:
    """NYUv2 with 4 tasks, in this order: depth, edges, normals, semantic segmentation."""
    return [depth_task(), EdgeTask(), NormalTask(), SemanticTask(num_classes)]


def street_tasks(num_classes: int) -> list[Task]:
    """CityScapes 3-task layout (Kendall et al. 2018): semantic, instance offsets, disparity."""
    return [SemanticTask(num_classes), instance_task(), disparity_task()]
