"""MultiMNIST and MultiFashion (Sener & Koltun, 2018, "Multi-task learning as multi-objective
optimization", Sec. 6.1, and their official data loader).

Each sample puts a *left* image at the top-left of a 36x36 canvas and a randomly chosen partner
(*right*) image 6 px lower and 6 px to the right; where they overlap the pixelwise maximum is
kept; the canvas is resized to 28x28 with nearest-neighbour sampling, as the official loader does.
Labels are (left class, right class).

Splits: ``train`` and ``val`` come from the 60,000 official training images (``val`` is a
held-out, seed-fixed subset of ``val_size`` samples), ``test`` from the 10,000 official test
images; partners are drawn within the same split. Built arrays are cached as ``.npz`` under
``<data root>/multimnist/``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from autoscale.training.datasets.digits import DigitImages, find_source, read_source

CANVAS = 36
OFFSET = 6
SIZE = 28
SPLITS = ("train", "val", "test")
VARIANTS = {"multimnist": "mnist", "multifashion": "fashion"}


def compose_pairs(images: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Overlay ``images[right]`` shifted by (6, 6) on ``images[left]``; max where they overlap.

    Returns (n, 28, 28) uint8 after a nearest-neighbour resize of the 36x36 canvas.
    """
    n = len(left)
    canvas = np.zeros((n, CANVAS, CANVAS), dtype=np.uint8)
    canvas[:, :SIZE, :SIZE] = images[left]
    window = canvas[:, OFFSET : OFFSET + SIZE, OFFSET : OFFSET + SIZE]
    np.maximum(window, images[right], out=window)
    # Nearest-neighbour resize 36 → 28: output pixel i samples input floor(i * 36 / 28), like PIL's
    # "nearest" filter used through scipy.misc.imresize in the official loader.
    idx = np.floor((np.arange(SIZE) + 0.5) * CANVAS / SIZE).astype(int)
    return canvas[:, idx][:, :, idx]


def build_split(digits: DigitImages, split: str, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) uint8 and labels (n, 2) int64 of one split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if not 0 < val_size < len(digits.train_images):
        raise ValueError(f"val_size must be in (0, {len(digits.train_images)}), got {val_size}")
    if split == "test":
        images, labels = digits.test_images, digits.test_labels
        pool = np.arange(len(images))
    else:
        images, labels = digits.train_images, digits.train_labels
        order = np.random.default_rng([seed, 0]).permutation(len(images))
        pool = np.sort(order[:val_size] if split == "val" else order[val_size:])
    rng = np.random.default_rng([seed, 1 + SPLITS.index(split)])
    left = pool
    right = pool[rng.integers(0, len(pool), size=len(pool))]
    return compose_pairs(images, left, right), np.stack([labels[left], labels[right]], axis=1)


def _cache_path(root: Path, variant: str, split: str, val_size: int, seed: int, source: str) -> Path:
    """Cache file of one split; the name hashes the image source and split options."""
    tag = hashlib.sha1(f"{source}|{val_size}|{seed}".encode()).hexdigest()[:10]
    return root / "multimnist" / f"{variant}-{split}-{tag}.npz"


@functools.lru_cache(maxsize=8)
def load_split(
    root: Path, split: str, variant: str = "multimnist", val_size: int = 10_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Cached images and labels of ``split``; built (a few seconds) and cached on first use.

    Kept in memory too: a sweep builds many datasets in one process, and decompressing the cache
    every time would cost more than a smoke-profile run.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    source = find_source(VARIANTS[variant], root)
    path = _cache_path(root, variant, split, val_size, seed, str(source))
    if path.is_file():
        with np.load(path) as cached:
            return cached["images"], cached["labels"]
    images, labels = build_split(read_source(source), split, val_size, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename so that an interrupted build never leaves a truncated cache behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as fh:
        np.savez(fh, images=images, labels=labels)
    os.replace(tmp, path)
    return images, labels


class MultiDigitDataset(Dataset):
    """Torch dataset of MultiMNIST / MultiFashion: ``(image (1,28,28) float, {"left": y, "right": y})``.

    ``size`` keeps the first ``size`` samples (a fixed subset; the split order is already random).
    Images are scaled to [0, 1] and normalised with MNIST's mean 0.1307 and std 0.3081, as the
    official code does.
    """

    MEAN, STD = 0.1307, 0.3081

    def __init__(
        self,
        root: Path,
        split: str,
        variant: str = "multimnist",
        size: int | None = None,
        val_size: int = 10_000,
        seed: int = 0,
    ) -> None:
        images, labels = load_split(root, split, variant, val_size, seed)
        if size is not None:
            if size < 1:
                raise ValueError(f"size must be positive, got {size}")
            images, labels = images[:size], labels[:size]
        self.images = torch.from_numpy(images).unsqueeze(1)
        self.labels = torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, dict[str, Tensor]]:
        x = (self.images[i].float() / 255.0 - self.MEAN) / self.STD
        return x, {"left": self.labels[i, 0], "right": self.labels[i, 1]}
