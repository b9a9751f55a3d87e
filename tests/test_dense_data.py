"""Dense datasets: tiny fixtures in each on-disk layout read back with the documented conventions."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from autoscale.training.datasets import build_dataset, scene_datasets
from autoscale.training.datasets.augment import hflip, instance_offsets, random_scale_crop
from autoscale.training.datasets.cityscapes import decode_disparity, thing_instances, train_ids
from autoscale.training.datasets.mtan import MANIFEST
from autoscale.training.datasets.nyuv2 import label_depth_edges

H, W = 6, 8


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array)


def _write_nyuv2(root: Path, counts=(("train", 5), ("val", 3))) -> None:
    rng = np.random.default_rng(0)
    for split, n in counts:
        for i in range(n):
            d = root / "nyuv2" / split
            label = np.zeros((H, W))  # mtan stores labels as floats
            label[:, W // 2 :] = 3
            label[0, 0] = -1
            normal = np.zeros((H, W, 3), np.float32)
            normal[..., 2] = 1.0
            _save(d / "image" / f"{i}.npy", rng.random((H, W, 3), dtype=np.float32))
            _save(d / "label" / f"{i}.npy", label)
            _save(d / "depth" / f"{i}.npy", np.full((H, W, 1), 2.0 + i, np.float32))
            _save(d / "normal" / f"{i}.npy", normal)


# ---- instance offsets, CityScapes decoding ------------------------------------------------------------


def test_instance_offsets_of_a_2x2_instance():
    ids = torch.zeros(4, 5, dtype=torch.int64)
    ids[1:3, 2:4] = 7
    out = instance_offsets(ids)
    assert out.shape == (3, 4, 5) and out.dtype == torch.float32
    assert torch.equal(out[0], (ids > 0).float())
    assert torch.equal(out[1, 1:3, 2:4], torch.tensor([[0.5, 0.5], [-0.5, -0.5]]))
    assert torch.equal(out[2, 1:3, 2:4], torch.tensor([[0.5, -0.5], [0.5, -0.5]]))
    assert out[1:, ids == 0].abs().sum() == 0


def test_instance_offsets_of_two_instances_point_to_their_own_centres():
    ids = torch.zeros(3, 6, dtype=torch.int64)
    ids[:, 0] = 1  # column 0, centre (1, 0)
    ids[0, 3:6] = 2  # row 0, centre (0, 4)
    out = instance_offsets(ids)
    assert out[1:, :, 0].tolist() == [[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]]
    assert out[1:, 0, 3:6].tolist() == [[0.0, 0.0, 0.0], [1.0, 0.0, -1.0]]


def test_disparity_decoding_and_label_mapping():
    assert decode_disparity(np.array([0, 1, 257, 513], np.uint16)).tolist() == [0.0, 0.0, 1.0, 2.0]
    # road 7 → 0, bicycle 33 → 18, unlabeled 0 / parking 9 / caravan 29 / out of table 40 → -1
    assert train_ids(np.array([7, 8, 26, 33, 0, 9, 29, 40])).tolist() == [0, 1, 13, 18, -1, -1, -1, -1]
    assert thing_instances(np.array([26, 26001, 24000, 999])).tolist() == [0, 26001, 24000, 0]


# ---- augmentation -------------------------------------------------------------------------------------


def _raw_sample() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ids = torch.zeros(H, W, dtype=torch.int64)
    ids[1:4, 1:3] = 5
    ids[2:5, 5:8] = 9
    normal = torch.nn.functional.normalize(torch.randn(3, H, W, generator=g), dim=0)
    return {
        "image": torch.rand(3, H, W, generator=g),
        "semantic": torch.randint(-1, 4, (H, W), generator=g),
        "depth": torch.full((1, H, W), 3.0),
        "disparity": torch.full((1, H, W), 2.0),
        "normal": normal,
        "instance": ids,
    }


def test_scale_crop_divides_depth_and_multiplies_disparity_by_the_scale():
    out = random_scale_crop(_raw_sample(), torch.Generator().manual_seed(1), scales=(1.5,))
    assert out["image"].shape == (3, H, W) and out["semantic"].dtype == torch.int64
    assert torch.allclose(out["depth"], torch.full((1, H, W), 2.0))
    assert torch.allclose(out["disparity"], torch.full((1, H, W), 3.0))
    assert torch.allclose(out["normal"].norm(dim=0), torch.ones(H, W))  # nearest keeps unit normals
    assert set(out["semantic"].unique().tolist()) <= set(_raw_sample()["semantic"].unique().tolist())


def test_flip_negates_normal_x_and_mirrors_instance_offsets():
    sample = _raw_sample()
    flipped = hflip(sample)
    assert torch.equal(flipped["normal"][0], -sample["normal"][0].flip(-1))
    assert torch.equal(flipped["normal"][1:], sample["normal"][1:].flip(-1))
    before, after = instance_offsets(sample["instance"]), instance_offsets(flipped["instance"])
    assert torch.equal(after[:2], before[:2].flip(-1))
    assert torch.allclose(after[2], -before[2].flip(-1))


# ---- mtan layout: NYUv2 and CityScapes 2-task ------------------------------------------------------


def test_nyuv2_mtan_layout(tmp_path):
    _write_nyuv2(tmp_path)
    test = build_dataset("nyuv2", "test", root=tmp_path)
    train = build_dataset("nyuv2", "train", root=tmp_path, val_size=2)
    val = build_dataset("nyuv2", "val", root=tmp_path, val_size=2)
    assert (len(test), len(train), len(val)) == (3, 3, 2)
    assert sorted([*train.indices, *val.indices]) == list(range(5))
    image, targets = test[1]
    assert image.shape == (3, H, W) and image.dtype == torch.float32
    assert set(targets) == {"semantic", "depth", "normal", "edge"}
    assert targets["semantic"].dtype == torch.int64 and targets["semantic"][0, 0] == -1
    assert targets["semantic"][0, -1] == 3
    assert torch.equal(targets["depth"], torch.full((1, H, W), 3.0))
    assert targets["normal"].shape == (3, H, W) and targets["edge"].shape == (1, H, W)
    # the semantic boundary between columns W/2-1 and W/2 is an edge; flat constant depth adds none
    assert targets["edge"][0].sum(0).tolist() == [0, 0, 0, H, 0, 0, 0, 0]
    augmented = build_dataset("nyuv2", "train", root=tmp_path, val_size=2, augment=True)
    assert augmented.augment and not build_dataset("nyuv2", "test", root=tmp_path, augment=True).augment
    assert augmented[0][1]["depth"].max() <= 4.0


def test_edges_from_depth_jumps():
    depth = torch.ones(1, 4, 4)
    depth[0, 2:] = 2.0
    depth[0, 0, 0] = 0.0  # invalid: no edge against it
    edges = label_depth_edges(torch.zeros(4, 4, dtype=torch.int64), depth, depth_jump=0.1)
    assert edges[0].tolist() == [[0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_cityscapes_mtan_layout(tmp_path):
    for split, n in (("train", 4), ("val", 2)):
        d = tmp_path / "cityscapes" / split
        for i in range(n):
            _save(d / "image" / f"{i}.npy", np.zeros((H, W, 3), np.float32))
            _save(d / "label_7" / f"{i}.npy", np.full((H, W), 6.0))
            _save(d / "depth" / f"{i}.npy", np.full((H, W, 1), 0.25, np.float32))
    test = build_dataset("cityscapes", "test", root=tmp_path)
    assert len(test) == 2 and len(build_dataset("cityscapes", "val", root=tmp_path, val_size=1)) == 1
    image, targets = test[0]
    assert image.shape == (3, H, W) and set(targets) == {"semantic", "depth"}
    assert targets["semantic"].unique().tolist() == [6] and targets["depth"].shape == (1, H, W)


# ---- CityScapes 3-task from the raw layout ------------------------------------------------------------


def _write_cityscapes_raw(root: Path) -> None:
    raw = root / "cityscapes3" / "raw"
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            stem = f"{split}city_000000_{i:06d}"
            city = f"{split}city"
            labels = np.full((8, 16), 7, np.uint8)  # road
            labels[:, 8:] = 26  # car
            labels[:2, :] = 0  # unlabeled (rows 0-1 become row 0 after resizing)
            instances = labels.astype(np.uint16)
            instances[4:8, 8:12] = 26000
            instances[4:8, 12:16] = 26001
            disparity = np.full((8, 16), 257 + 256 * i, np.uint16)
            disparity[:, :2] = 0
            paths = {
                f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png": np.full((8, 16, 3), 200, np.uint8),
                f"gtFine/{split}/{city}/{stem}_gtFine_labelIds.png": labels,
                f"gtFine/{split}/{city}/{stem}_gtFine_instanceIds.png": instances,
                f"disparity/{split}/{city}/{stem}_disparity.png": disparity,
            }
            for rel, array in paths.items():
                (raw / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(raw / rel)


def test_cityscapes3_raw_layout(tmp_path):
    _write_cityscapes_raw(tmp_path)
    test = build_dataset("cityscapes3", "test", root=tmp_path, height=4, width=8)
    assert len(test) == 2
    assert len(build_dataset("cityscapes3", "train", root=tmp_path, height=4, width=8, val_size=1)) == 2
    image, targets = test[1]
    assert image.shape == (3, 4, 8) and torch.allclose(image, torch.full_like(image, 200 / 255))
    assert set(targets) == {"semantic", "instance", "disparity"}
    assert targets["semantic"][1].tolist() == [0, 0, 0, 0, 13, 13, 13, 13]
    assert targets["semantic"][0].tolist() == [-1] * 8
    # disparity (p - 1) / 256 = 2 px at 16 px width → 1 px at 8 px width; column 0 invalid
    assert targets["disparity"][0, 1].tolist() == [0.0] + [1.0] * 7
    instance = targets["instance"]
    assert instance.shape == (3, 4, 8)
    assert instance[0].tolist() == [[0] * 8, [0] * 8, [0] * 4 + [1] * 4, [0] * 4 + [1] * 4]
    # two 2x2 instances after resizing: offsets ±0.5
    assert instance[1, 2:4, 4:8].tolist() == [[0.5] * 4, [-0.5] * 4]
    assert instance[2, 2:4, 4:8].tolist() == [[0.5, -0.5, 0.5, -0.5]] * 2
    # the resized cache is reused, and the raw files are no longer needed
    cache = tmp_path / "cityscapes3" / "4x8" / "test"
    assert (cache / MANIFEST).is_file() and len(list((cache / "image").glob("*.npy"))) == 2


def test_cityscapes3_missing_raw_names_the_download_script(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"download_cityscapes\.py"):
        build_dataset("cityscapes3", "train", root=tmp_path)


# ---- errors -------------------------------------------------------------------------------------------


def test_missing_folder_names_folder_and_command(tmp_path):
    _write_nyuv2(tmp_path)
    for path in (tmp_path / "nyuv2" / "val" / "normal").iterdir():
        path.unlink()
    (tmp_path / "nyuv2" / "val" / "normal").rmdir()
    with pytest.raises(FileNotFoundError, match=r"val/normal.*data_scripts/download_nyuv2.py"):
        build_dataset("nyuv2", "test", root=tmp_path)


def test_corrupt_file_names_its_path(tmp_path):
    _write_nyuv2(tmp_path)
    bad = tmp_path / "nyuv2" / "val" / "depth" / "2.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    dataset = build_dataset("nyuv2", "test", root=tmp_path)
    dataset[1]
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        dataset[2]


def test_mismatched_sizes_name_the_sample(tmp_path):
    _write_nyuv2(tmp_path)
    np.save(tmp_path / "nyuv2" / "val" / "label" / "1.npy", np.zeros((H + 1, W)))
    with pytest.raises(ValueError, match=r"sample .*val/\*/1.npy.*semantic"):
        build_dataset("nyuv2", "test", root=tmp_path)[1]


def test_incomplete_folder_is_an_error(tmp_path):
    _write_nyuv2(tmp_path)
    (tmp_path / "nyuv2" / "val" / "depth" / "2.npy").unlink()
    with pytest.raises(ValueError, match=r"val/depth holds 2 samples.*download_nyuv2"):
        build_dataset("nyuv2", "test", root=tmp_path)


# ---- procedural scenes --------------------------------------------------------------------------------


class FakeRender:
    """Stands in for autoscale.training.datasets.scenes.render; counts the scenes it draws."""

    def __init__(self) -> None:
        self.scenes = 0

    def __call__(self, kind: str, n: int, height: int, width: int, seed: int) -> dict[str, np.ndarray]:
        self.scenes += n
        rng = np.random.default_rng(seed)
        depth = rng.uniform(1, 5, (n, height, width)).astype(np.float32)
        normal = np.zeros((n, height, width, 3), np.float32)
        normal[..., 2] = -1.0
        instance = np.zeros((n, height, width), np.int32)
        instance[:, :2, :2] = 1
        out = {
            "image": rng.random((n, height, width, 3), dtype=np.float32),
            "depth": depth,
            "normal": normal,
            "semantic": rng.integers(0, 5, (n, height, width)).astype(np.int16),
            "instance": instance,
            "edge": (rng.random((n, height, width)) < 0.1).astype(np.float32),
        }
        if kind == "street":
            out["disparity"] = (10.0 / depth).astype(np.float32)
        return out


@pytest.fixture
def fake_render(monkeypatch):
    fake = FakeRender()
    monkeypatch.setattr(scene_datasets, "_renderer", lambda: (fake, "fake"))
    return fake


class Interrupted(Exception):
    pass


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.npy"))}


def test_scenes_render_incrementally(tmp_path, fake_render):
    options = {"root": tmp_path, "height": 8, "width": 10, "seed": 3}
    first = build_dataset("scenes-indoor", "train", size=4, **options)
    assert len(first) == 4 and fake_render.scenes == 4
    image_dir = tmp_path / "scenes-indoor" / "8x10-seed3" / "train" / "image"
    before = _files(image_dir)
    second = build_dataset("scenes-indoor", "train", size=6, **options)
    assert len(second) == 6 and fake_render.scenes == 6
    after = _files(image_dir)
    assert len(after) == 6 and all(after[name] == data for name, data in before.items())
    assert len(build_dataset("scenes-indoor", "train", size=5, **options)) == 5 and fake_render.scenes == 6
    assert not list(image_dir.parent.rglob("*.tmp"))
    # other splits are other draws
    val = build_dataset("scenes-indoor", "val", size=2, **options)
    assert not torch.equal(val[0][0], first[0][0])


def test_scene_samples_and_depth_unit(tmp_path, fake_render):
    options = {"root": tmp_path, "height": 8, "width": 10, "size": 3}
    image, targets = build_dataset("scenes-indoor", "test", **options)[0]
    assert image.shape == (3, 8, 10) and set(targets) == {"depth", "edge", "normal", "semantic"}
    assert targets["semantic"].dtype == torch.int64 and targets["edge"].dtype == torch.float32
    _, mm = build_dataset("scenes-indoor", "test", depth_unit="mm", **options)[0]
    assert torch.allclose(mm["depth"], 1000 * targets["depth"])
    _, street = build_dataset("scenes-street", "test", depth_unit="mm", **options)[0]
    assert set(street) == {"semantic", "instance", "disparity"} and street["instance"].shape == (3, 8, 10)
    assert street["instance"][1:, :2, :2].abs().max() == 0.5
    _, more = build_dataset("scenes-street", "test", targets=("depth", "disparity"), **options)[0]
    assert torch.allclose(more["disparity"], street["disparity"])
    with pytest.raises(ValueError, match="disparity"):
        build_dataset("scenes-indoor", "test", targets=("disparity",), **options)


def test_scenes_rerender_when_the_renderer_changes(tmp_path, fake_render, monkeypatch):
    build_dataset("scenes-street", "val", root=tmp_path, height=8, width=10, size=2)
    monkeypatch.setattr(scene_datasets, "_renderer", lambda: (fake_render, "changed"))
    build_dataset("scenes-street", "val", root=tmp_path, height=8, width=10, size=2)
    assert fake_render.scenes == 4


def test_interrupted_rendering_resumes(tmp_path, fake_render, monkeypatch):
    monkeypatch.setattr(scene_datasets, "CHUNK", 2)
    real_call = FakeRender.__call__

    def fail_on_fifth(self, *args):
        if self.scenes == 4:
            raise Interrupted
        return real_call(self, *args)

    monkeypatch.setattr(FakeRender, "__call__", fail_on_fifth)
    with pytest.raises(Interrupted):
        build_dataset("scenes-indoor", "train", root=tmp_path, height=8, width=10, size=6)
    split_dir = tmp_path / "scenes-indoor" / "8x10-seed0" / "train"
    assert json.loads((split_dir / MANIFEST).read_text())["count"] == 4
    monkeypatch.setattr(FakeRender, "__call__", real_call)
    assert len(build_dataset("scenes-indoor", "train", root=tmp_path, height=8, width=10, size=6)) == 6
    assert fake_render.scenes == 6


def test_plot_samples_of_a_dataset_and_a_batch(tmp_path, fake_render):
    import matplotlib

    matplotlib.use("Agg")
    from autoscale.book.plots import plot_samples

    dataset = build_dataset("scenes-street", "val", root=tmp_path, height=8, width=10, size=3, augment=True)
    fig = plot_samples(dataset, n=2)
    assert len(fig.axes) == 2 * 4 and [ax.get_title() for ax in fig.axes[:4]] == [
        "rgb", "semantic", "instance", "disparity"]  # fmt: skip
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=3)))
    assert batch[0].shape == (3, 3, 8, 10) and batch[1]["instance"].shape == (3, 3, 8, 10)
    assert len(plot_samples(batch, n=5).axes) == 3 * 4


def test_real_renderer_round_trip(tmp_path):
    render = getattr(importlib.import_module("autoscale.training.datasets.scenes"), "render", None)
    if render is None:
        pytest.skip("renderer not available yet")
    dataset = build_dataset("scenes-street", "train", root=tmp_path, height=12, width=16, size=2, targets=(
        "semantic", "instance", "disparity", "depth", "normal", "edge"))  # fmt: skip
    image, targets = dataset[1]
    scene = render("street", 1, 12, 16, scene_datasets.scene_seed(0, "train", 1))
    assert torch.equal(image, torch.from_numpy(scene["image"][0]).permute(2, 0, 1))
    assert torch.equal(targets["semantic"], torch.from_numpy(scene["semantic"][0].astype(np.int64)))
    assert torch.equal(targets["depth"][0], torch.from_numpy(scene["depth"][0]))
    assert torch.equal(targets["instance"][0], torch.from_numpy(scene["instance"][0] > 0).float())


def test_small_splits_are_read_from_disk_once_and_large_ones_every_time(tmp_path, monkeypatch):
    from autoscale.training.datasets import mtan

    _write_nyuv2(tmp_path)
    train = build_dataset("nyuv2", "train", root=tmp_path, val_size=2, augment=True)
    first = [train.load(i) for i in range(len(train))]
    # Augmentation still draws anew on every read of a kept sample, as from disk.
    monkeypatch.setattr(mtan, "CACHE_BYTES", 0)
    from_disk = build_dataset("nyuv2", "train", root=tmp_path, val_size=2, augment=True)
    torch.manual_seed(0)
    expected = [from_disk[0] for _ in range(3)]
    torch.manual_seed(0)
    got = [train[0] for _ in range(3)]
    for (x, t), (y, u) in zip(expected, got, strict=True):
        assert torch.equal(x, y) and all(torch.equal(t[k], u[k]) for k in t)
    for folder in ("image", "depth", "label", "normal"):
        for f in (tmp_path / "nyuv2" / "train" / folder).glob("*.npy"):
            f.unlink()  # a kept split no longer needs its files
    again = [train.load(i) for i in range(len(train))]
    assert all(a is not b and all(torch.equal(a[k], b[k]) for k in a) for a, b in zip(first, again, strict=True))
    # Callers replace entries of the dict they get; the kept sample must not change.
    train.load(0)["depth"] = torch.zeros(1)
    assert torch.equal(train.load(0)["depth"], first[0]["depth"])

    _write_nyuv2(tmp_path / "large")
    large = build_dataset("nyuv2", "test", root=tmp_path / "large")
    large.load(0)
    (tmp_path / "large" / "nyuv2" / "val" / "image" / "0.npy").unlink()
    with pytest.raises(FileNotFoundError):
        large.load(0)
