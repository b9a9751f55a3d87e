"""The procedural scene benchmarks ``scenes-indoor`` and ``scenes-street``: rendered once, read from disk.

Scenes come from :func:`autoscale.training.datasets.scenes.render` and are written, incrementally, into the mtan
layout (:mod:`autoscale.training.datasets.mtan`) under
``{data root}/scenes-{kind}/{H}x{W}-seed{seed}/{split}/{folder}/{i}.npy`` with folders
``image`` (H,W,3) float32 in [0, 1], ``label`` (semantic, int16, -1 = ignore), ``depth`` (float32
metres, 0 = invalid), ``normal`` (H,W,3) float32 camera-frame unit vectors (x right, y down, z
forward; 0 = invalid), ``edge`` (uint8 {0, 1}), ``instance`` (int32 ids, 0 = none) and, for street,
``disparity`` (float32 pixels, 0 = invalid); plus ``manifest.json``.

Scene i of a split is ``render(kind, 1, H, W, seed=scene_seed(seed, split, i))``: it depends only on
(seed, split, i), so the train, val and test splits are disjoint draws and asking for more samples
later renders only the missing ones. The manifest records a hash of the renderer's source (every module
of :mod:`autoscale.training.datasets.scenes`): after the renderer changes, cached scenes are rendered again.

Sizes come from a *profile* (:data:`SCENE_SIZES`): height, width and the number of scenes per split;
explicit ``height`` / ``width`` / ``size`` override it. ``depth_unit="mm"`` multiplies the depth target
by 1000 at load time (never on disk), the loss-scale imbalance the paper discusses. Tasks mirror the
paper's dense benchmarks: indoor (NYUv2) → depth, edge, normal, semantic; street (CityScapes) →
semantic, instance, disparity; ``targets`` selects other rendered fields (e.g. for figures).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from autoscale.training.datasets.mtan import SPLITS, MtanDataset, extend

# Per profile: image size and scenes per split. Rendering (one core) runs at about 50 indoor / 35 street
# scenes/s at 64x80 and 28 / 21 at 128x160; with the block size of small files a scene takes about 0.2 MB
# on disk at 64x80 and 0.75 MB at 128x160. So: smoke (CI) under 10 s and 10 MB; cpu 1700 scenes per kind,
# 1-2 min on 2 cores; full (one GPU session) 5000 per kind at 64x80, under a minute with 16 processes, about
# 1 GB; gpuday 12000 per kind at 128x160, 2-3 min with 8 processes, and 18 GB. Sizes are multiples of 16 so
# that encoders with four 2x poolings see whole pixels.
SCENE_SIZES: dict[str, dict[str, int]] = {
    "smoke": {"height": 32, "width": 48, "train": 32, "val": 16, "test": 16},
    "cpu": {"height": 48, "width": 64, "train": 1200, "val": 200, "test": 300},
    "full": {"height": 64, "width": 80, "train": 4000, "val": 500, "test": 500},
    "gpuday": {"height": 128, "width": 160, "train": 10000, "val": 1000, "test": 1000},
}
DEFAULT_PROFILE = "cpu"
TASKS = {"indoor": ("depth", "edge", "normal", "semantic"), "street": ("semantic", "instance", "disparity")}
# Target name → folder and on-disk dtype (compact integer types for labels).
FOLDERS = {
    "image": ("image", np.float32),
    "semantic": ("label", np.int16),
    "depth": ("depth", np.float32),
    "normal": ("normal", np.float32),
    "edge": ("edge", np.uint8),
    "instance": ("instance", np.int32),
    "disparity": ("disparity", np.float32),
}
DEPTH_UNITS = {"m": 1.0, "mm": 1000.0}
PREPARE_COMMAND = "python data_scripts/prepare_data.py --root {root} --profile {profile}"
CHUNK = 32


def scene_seed(seed: int, split: str, i: int) -> int:
    """The renderer seed of scene ``i`` of ``split``: a 63-bit hash of (seed, split, i)."""
    state = np.random.SeedSequence([seed, SPLITS.index(split), i]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def _renderer() -> tuple[Callable[..., dict[str, np.ndarray]], str]:
    """The scene renderer and a hash of its source (scenes rendered by other code are stale): sha1 over the
    relative path and bytes of every module of the renderer package, sorted by path."""
    from autoscale.training.datasets import scenes

    package = Path(scenes.__file__).parent
    digest = hashlib.sha1()
    for path in sorted(package.rglob("*.py"), key=lambda p: p.relative_to(package).as_posix()):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return scenes.render, digest.hexdigest()[:16]


def render_range(kind: str, height: int, width: int, seed: int, split: str, start: int, stop: int) -> dict[str, Any]:
    """Scenes [start, stop) of a split as {folder: stacked on-disk arrays}."""
    render, _ = _renderer()
    scenes = [render(kind, 1, height, width, scene_seed(seed, split, i)) for i in range(start, stop)]
    return {
        folder: np.concatenate([s[name] for s in scenes]).astype(dtype)
        for name, (folder, dtype) in FOLDERS.items()
        if name != "disparity" or kind == "street"
    }


def scenes_dir(root: Path, kind: str, height: int, width: int, seed: int, split: str) -> Path:
    """Where the scenes of one split live."""
    return Path(root) / f"scenes-{kind}" / f"{height}x{width}-seed{seed}" / split


def ensure_scenes(
    root: Path, kind: str, split: str, size: int, height: int, width: int, seed: int = 0, workers: int = 1
) -> Path:
    """Render the missing scenes among 0..size-1 of a split (with a progress bar); return its folder."""
    if kind not in TASKS:
        raise ValueError(f"unknown scene kind {kind!r}; valid: {', '.join(TASKS)}")
    if size < 1 or height < 1 or width < 1:
        raise ValueError(f"size, height and width must be positive, got {size}, {height}, {width}")
    split_dir = scenes_dir(root, kind, height, width, seed, split)
    meta = {"kind": kind, "split": split, "height": height, "width": width, "seed": seed, "renderer": _renderer()[1]}
    produce = partial(render_range, kind, height, width, seed, split)
    extend(split_dir, meta, size, produce, chunk=CHUNK, workers=workers, desc=f"scenes-{kind} {split} {height}x{width}")
    return split_dir


def build_scenes(
    root: Path,
    kind: str,
    split: str,
    profile: str = DEFAULT_PROFILE,
    size: int | None = None,
    height: int | None = None,
    width: int | None = None,
    seed: int = 0,
    depth_unit: str = "m",
    augment: bool = False,
    targets: Sequence[str] | None = None,
    workers: int = 1,
) -> MtanDataset:
    """The ``split`` of ``scenes-{kind}``, rendered first where needed; see the module docstring.

    ``augment`` applies to the train split only (so one option dict serves all splits).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if profile not in SCENE_SIZES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(SCENE_SIZES)}")
    if depth_unit not in DEPTH_UNITS:
        raise ValueError(f"unknown depth_unit {depth_unit!r}; valid: {', '.join(DEPTH_UNITS)}")
    targets = TASKS[kind] if targets is None else tuple(targets)
    available = set(FOLDERS) - {"image"} - ({"disparity"} if kind == "indoor" else set())
    if unknown := set(targets) - available:
        raise ValueError(f"scenes-{kind} has no target(s) {sorted(unknown)}; available: {sorted(available)}")
    sizes = SCENE_SIZES[profile]
    height, width = height or sizes["height"], width or sizes["width"]
    size = size or sizes[split]
    split_dir = ensure_scenes(root, kind, split, size, height, width, seed, workers)
    return MtanDataset(
        split_dir,
        {name: FOLDERS[name][0] for name in ("image", *targets)},
        fetch_hint=PREPARE_COMMAND.format(root=root, profile=profile),
        count=size,
        augment=augment and split == "train",
        depth_scale=DEPTH_UNITS[depth_unit],
    )
