"""Real NYUv2 in lorenmt/mtan's preprocessed layout, 4 tasks: semantic (13 classes), depth, normal, edge.

On disk, ``{folder}/{train,val}/{image,label,depth,normal}/{i}.npy`` as unpacked by
``data_scripts/download_nyuv2.py`` (the folder under the data root: :mod:`autoscale.benchmarks.nyuv2`):
image (288,384,3) float in [0, 1]; label (288,384), 13 classes (Couprie et al.'s 13-class mapping),
-1 = ignore; depth (288,384,1) metres, 0 = invalid; normal (288,384,3) unit vectors (Eigen & Fergus'
precomputed normals), 0 = invalid. mtan ships 795 train and 654 "val" images; the 654 are the standard
NYUv2 *test* set.

Splits: ``test`` = mtan's ``val`` (654 images, the numbers in tables); ``train`` / ``val`` = mtan's
``train`` with a seed-fixed subset of ``val_size`` (default 95, leaving 700 for training) held out
as ``val`` for weight selection.

Edges: the mtan files carry no edge maps. The 4-task NYUv2 (NYUD-MT of Xu et al.'s PAD-Net and
Vandenhende et al.'s MTI-Net) takes edges from object boundaries in the annotation; we derive them
the same way from what mtan provides: a pixel is an edge when its right or lower neighbour has a
different (valid) semantic class, or a depth jump larger than ``edge_depth_jump`` (default 10 %)
of the nearer depth (occlusion boundaries inside one class). Lines are one pixel wide, as in our
procedural scenes. They are computed at load time, before augmentation.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
from torch import Tensor

from autoscale.training.datasets.mtan import MtanDataset, RawSample, heldout_dataset

FIELDS = {"image": "image", "semantic": "label", "depth": "depth", "normal": "normal"}
NUM_CLASSES = 13
VAL_SIZE = 95
EDGE_DEPTH_JUMP = 0.1


def label_depth_edges(semantic: Tensor, depth: Tensor, depth_jump: float = EDGE_DEPTH_JUMP) -> Tensor:
    """(1,H,W) float {0, 1}: semantic boundaries and relative depth jumps above ``depth_jump``.

    ``semantic`` (H,W) with -1 = ignore, ``depth`` (1,H,W) with 0 = invalid; a pair of neighbours
    is compared only where both are valid. The edge is drawn on the left / upper pixel of a pair.
    """
    d = depth[0]
    edge = torch.zeros_like(d, dtype=torch.bool)
    for dim in (0, 1):  # lower, then right neighbour
        n = d.shape[dim] - 1
        s0, s1 = semantic.narrow(dim, 0, n), semantic.narrow(dim, 1, n)
        d0, d1 = d.narrow(dim, 0, n), d.narrow(dim, 1, n)
        label_change = (s0 != s1) & (s0 >= 0) & (s1 >= 0)
        depth_jump_here = ((d0 - d1).abs() > depth_jump * torch.minimum(d0, d1)) & (d0 > 0) & (d1 > 0)
        edge.narrow(dim, 0, n).logical_or_(label_change | depth_jump_here)
    return edge.float()[None]


def add_edges(sample: RawSample, depth_jump: float = EDGE_DEPTH_JUMP) -> RawSample:
    """``sample`` with its derived ``edge`` target."""
    return {**sample, "edge": label_depth_edges(sample["semantic"], sample["depth"], depth_jump)}


def build_nyuv2(
    folder: Path,
    split: str,
    fetch_hint: str,
    size: int | None = None,
    val_size: int = VAL_SIZE,
    seed: int = 0,
    augment: bool = False,
    edge_depth_jump: float = EDGE_DEPTH_JUMP,
) -> MtanDataset:
    """NYUv2 ``split`` ("train", "val", "test"; see the module docstring) under ``folder``; a missing
    file's error names ``fetch_hint``, the command that downloads it.

    Targets: semantic, depth (metres), normal, edge. ``augment`` (train only): scale-crop-flip of
    :mod:`autoscale.training.datasets.augment`; ``size`` keeps the first ``size`` samples of the split.
    """
    return heldout_dataset(
        Path(folder),
        split,
        FIELDS,
        fetch_hint,
        val_size=val_size,
        seed=seed,
        size=size,
        augment=augment,
        derive=partial(add_edges, depth_jump=edge_depth_jump),  # picklable for workers
    )
