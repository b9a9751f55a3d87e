"""Real CityScapes (Cordts et al., CVPR 2016) in two settings.

Each setting reads a folder under the data root (:mod:`autoscale.benchmarks.cityscapes` names them
and how to download them).

**2 tasks** (``cityscapes``: semantic with 7 classes, depth), lorenmt/mtan's preprocessed layout
``{folder}/{train,val}/{image,label_7,depth}/{i}.npy``: image (128,256,3) float in
[0, 1], label_7 (128,256) with -1 = ignore, depth (128,256,1) as mtan ships it (inverse depth from
the disparity maps, 0 = invalid; the community trains it as "depth"). 2975 train / 500 "val"
images; mtan's val is the official validation set and is our *test* split.

**3 tasks** (``cityscapes3``: semantic with the 19 train classes, instance, disparity) from the
official raw layout under ``{folder}/raw/``: ``leftImg8bit/{split}/{city}/*_leftImg8bit.png``,
``gtFine/{split}/{city}/*_gtFine_{labelIds,instanceIds}.png`` and
``disparity/{split}/{city}/*_disparity.png``. Decoding, following cityscapesScripts:

- labelIds → train ids with the official table (``helpers/labels.py``); void and ignored-in-eval
  classes → -1.
- instanceIds: values >= 1000 are ``labelId * 1000 + k``, instances of "thing" classes; smaller
  values are stuff labels or crowds and count as "no instance". The target is the per-pixel offset
  to the instance centre (:func:`autoscale.training.datasets.augment.instance_offsets`), computed after resizing
  and augmentation, as in Kendall et al. (2018).
- disparity: uint16 p; disparity = (p - 1) / 256 pixels for p > 0, p = 0 invalid (cityscapesScripts
  README). After resizing, disparity is multiplied by ``width / 2048`` so that it stays in pixels
  of the resized image (Auto-Lambda's ``map_disparity`` divides by 4 at 512 px width likewise).
  (p = 1, zero disparity, becomes 0 and so counts as invalid with our 0 = invalid convention.)

Images are resized to ``height`` x ``width`` (default 128x256, the resolution of mtan's CityScapes
and of the 3-task setups in the MTL literature; 256x512 is the other common choice) once, with
PIL bilinear (antialiased) for RGB and nearest for labels, ids and disparity, and cached in the
mtan layout under ``{folder}/{H}x{W}/{train,test}/{image,label,instance,disparity}``.
The raw files (11 GB) can be deleted afterwards. Splits: ``test`` = official val (500 images);
``train`` / ``val`` = official train (2975) with a seed-fixed ``val_size`` (default 275) held out.
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from autoscale.training.datasets.augment import resize_nearest
from autoscale.training.datasets.mtan import MtanDataset, extend, heldout_dataset, read_manifest

VAL_SIZE = 275
HEIGHT, WIDTH = 128, 256

MTAN_FIELDS = {"image": "image", "semantic": "label_7", "depth": "depth"}

RAW = "raw"  # the official files, in the 3-task folder
RAW_FIELDS = {"image": "image", "semantic": "label", "instance": "instance", "disparity": "disparity"}
# Our split → the official split it is drawn from; official split → its folder in the resized cache.
OFFICIAL = {"train": "train", "val": "train", "test": "val"}
CACHE_DIR = {"train": "train", "val": "test"}

# cityscapesScripts helpers/labels.py: labelId → trainId for the 19 evaluated classes.
TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13,
             27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # fmt: skip
NUM_CLASSES = 19
_LABEL_TO_TRAIN = np.full(256, -1, dtype=np.int16)
_LABEL_TO_TRAIN[list(TRAIN_IDS)] = list(TRAIN_IDS.values())


def train_ids(label_ids: np.ndarray) -> np.ndarray:
    """labelIds (any integer array) → train ids 0..18, -1 for every other id (int16)."""
    ids = np.asarray(label_ids)
    out = np.full(ids.shape, -1, dtype=np.int16)
    known = (ids >= 0) & (ids < 256)
    out[known] = _LABEL_TO_TRAIN[ids[known]]
    return out


def decode_disparity(png: np.ndarray) -> np.ndarray:
    """uint16 disparity PNG values → disparity in pixels, float32: (p - 1) / 256 for p > 0, else 0."""
    p = np.asarray(png).astype(np.float32)
    return np.where(p > 0, (p - 1.0) / 256.0, 0.0).astype(np.float32)


def thing_instances(instance_ids: np.ndarray) -> np.ndarray:
    """instanceIds → instance ids of things (values >= 1000), 0 elsewhere (int32)."""
    ids = np.asarray(instance_ids).astype(np.int32)
    return np.where(ids >= 1000, ids, 0).astype(np.int32)


def build_cityscapes(
    folder: Path,
    split: str,
    fetch_hint: str,
    size: int | None = None,
    val_size: int = VAL_SIZE,
    seed: int = 0,
    augment: bool = False,
) -> MtanDataset:
    """CityScapes 2-task (semantic 7 classes, depth) ``split`` from mtan's layout under ``folder``; see the
    module docstring. A missing file's error names ``fetch_hint``, the command that downloads it."""
    return heldout_dataset(
        Path(folder),
        split,
        MTAN_FIELDS,
        fetch_hint,
        val_size=val_size,
        seed=seed,
        size=size,
        augment=augment,
    )


# ---- 3 tasks from the raw layout -----------------------------------------------------------------


def raw_files(raw_root: Path, official_split: str, fetch_hint: str) -> list[dict[str, Path]]:
    """The files of each image of an official split, sorted by city and name; if they are missing, the
    error names ``fetch_hint``, the command that downloads them."""
    image_dir = Path(raw_root) / "leftImg8bit" / official_split
    if not image_dir.is_dir():
        raise FileNotFoundError(f"missing folder {image_dir}; to fetch it run: {fetch_hint}")
    files = []
    for image in sorted(image_dir.glob("*/*_leftImg8bit.png")):
        stem, city = image.name.removesuffix("_leftImg8bit.png"), image.parent.name
        gt = Path(raw_root) / "gtFine" / official_split / city
        files.append(
            {
                "image": image,
                "label": gt / f"{stem}_gtFine_labelIds.png",
                "instance": gt / f"{stem}_gtFine_instanceIds.png",
                "disparity": Path(raw_root) / "disparity" / official_split / city / f"{stem}_disparity.png",
            }
        )
    if not files:
        raise FileNotFoundError(f"no *_leftImg8bit.png images under {image_dir}")
    return files


def _read_png(path: Path, mode: str | None = None) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode) if mode else im)
    except FileNotFoundError:
        raise FileNotFoundError(f"missing file {path}") from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ValueError(f"corrupt or unreadable image {path} ({err})") from err


def convert_raw(files: list[dict[str, Path]], height: int, width: int) -> dict[str, np.ndarray]:
    """Decode and resize the raw files of some images → {cache folder: stacked arrays}."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in RAW_FIELDS.values()}
    for paths in files:
        rgb = _read_png(paths["image"], "RGB")
        raw = {name: _read_png(paths[name]) for name in ("label", "instance", "disparity")}
        for name, array in raw.items():
            if array.shape[:2] != rgb.shape[:2]:
                raise ValueError(f"{paths[name]} is {array.shape[:2]}, its image {paths['image']} {rgb.shape[:2]}")
        resized = Image.fromarray(rgb).resize((width, height), Image.BILINEAR)
        out["image"].append(np.asarray(resized, dtype=np.float32) / 255.0)
        small = {
            k: resize_nearest(torch.from_numpy(a.astype(np.int32)), (height, width)).numpy() for k, a in raw.items()
        }
        out["label"].append(train_ids(small["label"]))
        out["instance"].append(thing_instances(small["instance"]))
        out["disparity"].append(decode_disparity(small["disparity"]) * np.float32(width / rgb.shape[1]))
    return {name: np.stack(arrays) for name, arrays in out.items()}


def _convert_range(files: list[dict[str, Path]], height: int, width: int, start: int, stop: int) -> dict[str, Any]:
    return convert_raw(files[start:stop], height, width)


def prepare_cityscapes3(
    folder: Path, official_split: str, fetch_hint: str, height: int = HEIGHT, width: int = WIDTH, workers: int = 1
) -> Path:
    """Resize an official split of the raw files under ``folder`` into its cache (once; resumable) and
    return the cache folder (``fetch_hint``: :func:`raw_files`)."""
    raw_root = Path(folder) / RAW
    cache = Path(folder) / f"{height}x{width}" / CACHE_DIR[official_split]
    manifest = read_manifest(cache)
    raw_gone = not (raw_root / "leftImg8bit" / official_split).is_dir()
    if raw_gone and manifest is not None and manifest["count"] == manifest["meta"]["n"]:
        return cache  # complete, and the raw files are gone: nothing to compare against
    files = raw_files(raw_root, official_split, fetch_hint)
    names = "\n".join(str(p["image"].relative_to(raw_root)) for p in files)
    meta = {"split": official_split, "height": height, "width": width, "n": len(files),
            "files_sha1": hashlib.sha1(names.encode()).hexdigest()}  # fmt: skip
    produce = partial(_convert_range, files, height, width)
    extend(cache, meta, len(files), produce, chunk=32, workers=workers, desc=f"cityscapes {official_split} → {cache}")
    return cache


def build_cityscapes3(
    folder: Path,
    split: str,
    fetch_hint: str,
    size: int | None = None,
    height: int = HEIGHT,
    width: int = WIDTH,
    val_size: int = VAL_SIZE,
    seed: int = 0,
    augment: bool = False,
    workers: int = 1,
) -> MtanDataset:
    """CityScapes 3-task (semantic 19 classes, instance, disparity) ``split`` under ``folder``; see the
    module docstring. A missing file's error names ``fetch_hint``, the command that downloads it.

    The first call for a split converts the raw files (minutes; ``workers`` processes).
    """
    if split not in OFFICIAL:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(OFFICIAL)}")
    cache = prepare_cityscapes3(folder, OFFICIAL[split], fetch_hint, height, width, workers)
    return heldout_dataset(
        cache.parent,
        split,
        RAW_FIELDS,
        fetch_hint,
        val_size=val_size,
        seed=seed,
        size=size,
        test_dir="test",
        augment=augment,
        count=read_manifest(cache)["count"],
    )
