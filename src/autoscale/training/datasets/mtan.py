"""The mtan on-disk layout of dense datasets: reading, checking and (atomically) writing it.

Layout (Liu et al., "End-to-end multi-task learning with attention", CVPR 2019, lorenmt/mtan's
preprocessed NYUv2 and CityScapes): ``{split dir}/{folder}/{i}.npy`` for i = 0..n-1, one folder per
field, e.g. ``image`` (H,W,3) float in [0, 1], ``label`` (H,W) classes with -1 = ignore (any numeric
dtype; mtan's loaders cast it), ``depth`` (H,W) or (H,W,1), 0 = invalid, ``normal``
(H,W,3) unit vectors, all-zero = invalid. Our generated datasets add ``edge`` (H,W) {0, 1},
``instance`` (H,W) integer ids (0 = none) and ``disparity`` (H,W), 0 = invalid, and store labels in
compact integer dtypes. Folders written by this package also hold ``manifest.json``: the number of
complete samples and the parameters they were made with.

A dataset sample is ``(image (3,H,W) float32 in [0, 1], {target: tensor})``; images are not
normalised (mtan's convention). Targets: ``semantic`` (H,W) int64, ``depth`` / ``disparity`` /
``edge`` (1,H,W) float32, ``normal`` (3,H,W) float32, ``instance`` (3,H,W) float32 (valid mask, dy,
dx; :func:`autoscale.training.datasets.augment.instance_offsets`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from autoscale.training.datasets.augment import augment, instance_offsets

SPLITS = ("train", "val", "test")
MANIFEST = "manifest.json"
# Target name → how its array is laid out on disk: "rgb" (H,W,3), "class" (H,W) integer, "map" (H,W)
# or (H,W,1) float.
FIELD_KINDS = {
    "image": "rgb",
    "normal": "rgb",
    "semantic": "class",
    "instance": "class",
    "depth": "map",
    "disparity": "map",
    "edge": "map",
}

RawSample = dict[str, Tensor]
# Produces samples [start, stop) as {folder: array (stop - start, ...)}; see :func:`extend`.
Producer = Callable[[int, int], dict[str, np.ndarray]]


def load_npy(path: Path, header_only: bool = False) -> np.ndarray:
    """``np.load`` that names the file when it is missing, truncated or not an array.

    ``header_only`` memory-maps the file: only its header is read (a truncated file still fails).
    """
    try:
        return np.load(path, mmap_mode="r" if header_only else None, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"missing file {path}") from None
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"corrupt or unreadable file {path} ({err}); delete it and prepare the data again") from err


def check_layout(name: str, shape: tuple[int, ...], path: Path) -> tuple[int, int]:
    """The (H, W) of an on-disk array of target ``name``; an error naming ``path`` if its shape is wrong."""
    kind = FIELD_KINDS[name]
    if kind == "rgb" and (len(shape) != 3 or shape[-1] != 3):
        raise ValueError(f"{path}: expected an (H,W,3) array, got shape {shape}")
    if kind == "class" and len(shape) != 2:
        raise ValueError(f"{path}: expected an (H,W) array, got shape {shape}")
    if kind == "map" and not (len(shape) == 2 or (len(shape) == 3 and shape[-1] == 1)):
        raise ValueError(f"{path}: expected an (H,W) or (H,W,1) array, got shape {shape}")
    return shape[0], shape[1]


def to_raw(name: str, array: np.ndarray, path: Path) -> Tensor:
    """One on-disk array → the channel-first raw tensor of target ``name`` (module docstring)."""
    kind = FIELD_KINDS[name]
    check_layout(name, array.shape, path)
    if kind == "rgb":
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32))
    if kind == "class":
        return torch.from_numpy(array.astype(np.int64))
    return torch.from_numpy(array.astype(np.float32, copy=False).reshape(1, *array.shape[:2]))


def holdout(n: int, split: str, val_size: int, seed: int) -> np.ndarray:
    """Sorted indices of ``split`` ("train" or "val") when a seed-fixed ``val_size`` subset of n is held out."""
    if not 0 < val_size < n:
        raise ValueError(f"val_size must be in (0, {n}), got {val_size}")
    order = np.random.default_rng([seed, 0]).permutation(n)
    return np.sort(order[:val_size] if split == "val" else order[val_size:])


def take(indices: np.ndarray, size: int | None, where: object) -> np.ndarray:
    """The first ``size`` of ``indices`` (all if None); more than there are is an error."""
    if size is None:
        return indices
    if not 0 < size <= len(indices):
        raise ValueError(f"size must be in [1, {len(indices)}] for {where}, got {size}")
    return indices[:size]


# The most a split may take in memory for MtanDataset to keep its raw samples after the first load.
CACHE_BYTES = 512 * 2**20


class MtanDataset(Dataset):
    """Samples ``{split_dir}/{folder}/{i}.npy`` of the mtan layout.

    ``fields`` maps target names (including ``"image"``) to folders. ``count`` is the number of
    samples on disk (default: the ``*.npy`` files in the image folder, which every folder must
    match); ``indices`` picks and orders the samples used. ``derive`` adds targets computed from the
    loaded ones (before augmentation), ``augment`` applies :func:`autoscale.training.datasets.augment.augment`,
    ``depth_scale`` multiplies the depth target (unit changes). ``fetch_hint`` is the command that
    downloads or prepares the data, quoted in errors about missing folders.

    Raw samples are kept in memory after their first load while the split's estimated size (the
    first sample's bytes times the sample count) is at most :data:`CACHE_BYTES`: a small split is
    read from disk once instead of every epoch (opening five small files per sample was 40% of a
    step of the scenes' small CNN at batch 4). Larger splits are read from disk each time.
    """

    def __init__(
        self,
        split_dir: Path,
        fields: Mapping[str, str],
        fetch_hint: str,
        count: int | None = None,
        indices: Sequence[int] | np.ndarray | None = None,
        derive: Callable[[RawSample], RawSample] | None = None,
        augment: bool = False,
        depth_scale: float = 1.0,
    ) -> None:
        self.split_dir = Path(split_dir)
        self.fields = dict(fields)
        for folder in self.fields.values():
            if not (self.split_dir / folder).is_dir():
                raise FileNotFoundError(f"missing folder {self.split_dir / folder}; to fetch it run: {fetch_hint}")
        self.count = self._count_files(fetch_hint) if count is None else count
        self.indices = np.arange(self.count) if indices is None else np.asarray(indices, dtype=np.int64)
        if len(self.indices) and not 0 <= self.indices.min() <= self.indices.max() < self.count:
            raise ValueError(f"indices out of range for the {self.count} samples in {self.split_dir}")
        # None: not decided yet (the first load decides); False: too large to keep.
        self._cache: dict[int, RawSample] | bool | None = None
        self.derive = derive
        self.augment = augment
        self.depth_scale = depth_scale

    def _count_files(self, fetch_hint: str) -> int:
        counts = {folder: sum(1 for _ in (self.split_dir / folder).glob("*.npy")) for folder in self.fields.values()}
        n = counts[self.fields["image"]]
        for folder, count in counts.items():
            if count != n:
                raise ValueError(
                    f"{self.split_dir / folder} holds {count} samples but the image folder {n}; "
                    f"the data is incomplete, fetch it again with: {fetch_hint}"
                )
        return n

    def __len__(self) -> int:
        return len(self.indices)

    def sample_paths(self, i: int) -> dict[str, Path]:
        """The files of sample ``i`` (after ``indices``), by target name."""
        index = int(self.indices[i])
        return {name: self.split_dir / folder / f"{index}.npy" for name, folder in self.fields.items()}

    def load(self, i: int) -> RawSample:
        """The raw sample ``i`` (channel-first tensors, instance as ids) with checked shapes; a new
        dict on every call (callers replace its entries; the tensors are never changed in place)."""
        index = int(self.indices[i])
        if isinstance(self._cache, dict) and index in self._cache:
            return dict(self._cache[index])
        sample = self._load_files(i)
        if self._cache is None:
            nbytes = sum(x.numel() * x.element_size() for x in sample.values())
            self._cache = {} if nbytes * len(self) <= CACHE_BYTES else False
        if isinstance(self._cache, dict):
            self._cache[index] = sample
            return dict(sample)
        return sample

    def _load_files(self, i: int) -> RawSample:
        paths = self.sample_paths(i)
        sample = {name: to_raw(name, load_npy(path), path) for name, path in paths.items()}
        size = sample["image"].shape[-2:]
        for name, x in sample.items():
            if x.shape[-2:] != size:
                raise ValueError(
                    f"sample {paths['image'].parent.parent}/*/{paths['image'].name}: {name} is "
                    f"{tuple(x.shape[-2:])} but the image is {tuple(size)} ({paths[name]})"
                )
        return sample

    def verify(self, size: tuple[int, int] | None = None) -> None:
        """Check every file's header (not its data): readable, the right layout, one (H, W) per sample
        (``size`` if given). Raises an error naming the first bad file."""
        for i in tqdm(range(len(self)), desc=f"checking {self.split_dir}", unit="sample"):
            paths = self.sample_paths(i)
            shapes = {name: check_layout(name, load_npy(p, header_only=True).shape, p) for name, p in paths.items()}
            expected = size or shapes["image"]
            for name, shape in shapes.items():
                if shape != expected:
                    raise ValueError(
                        f"sample {paths[name].parent.parent}/*/{paths[name].name}: {name} is {shape}, "
                        f"expected {expected}"
                    )

    def __getitem__(self, i: int) -> tuple[Tensor, dict[str, Tensor]]:
        sample = self.load(i)
        if self.derive is not None:
            sample = self.derive(sample)
        if self.augment:
            sample = augment(sample)
        if "depth" in sample and self.depth_scale != 1.0:
            sample["depth"] = sample["depth"] * self.depth_scale
        if "instance" in sample:
            sample["instance"] = instance_offsets(sample["instance"])
        return sample.pop("image"), sample


def heldout_dataset(
    root: Path,
    split: str,
    fields: Mapping[str, str],
    fetch_hint: str,
    val_size: int,
    seed: int = 0,
    size: int | None = None,
    test_dir: str = "val",
    augment: bool = False,
    **options: Any,
) -> MtanDataset:
    """A benchmark split of a dataset published with train and test folders only.

    ``test`` is ``{root}/{test_dir}`` (mtan names the NYUv2 and CityScapes test sets "val");
    ``train`` and ``val`` split ``{root}/train``, ``val`` being a seed-fixed subset of ``val_size``
    samples held out for weight selection (weights are never selected on the test split).
    ``augment`` applies to the train split only, so one option dict serves all splits; ``size``
    keeps the first ``size`` samples; other options go to :class:`MtanDataset`.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    folder = Path(root) / (test_dir if split == "test" else "train")
    dataset = MtanDataset(folder, fields, fetch_hint, augment=augment and split == "train", **options)
    indices = dataset.indices if split == "test" else holdout(dataset.count, split, val_size, seed)
    dataset.indices = take(indices, size, f"the {split} split of {root}")
    return dataset


# ---- writing -------------------------------------------------------------------------------------


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    # Write to a temporary name in the same folder, then rename: readers (and an interrupted run)
    # only ever see complete files. The pid keeps concurrent writers of the same file apart.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        write(fh)
    os.replace(tmp, path)


def save_npy(path: Path, array: np.ndarray) -> None:
    """Save ``array`` to ``path`` atomically."""
    _atomic_write(path, lambda fh: np.save(fh, array, allow_pickle=False))


def read_manifest(split_dir: Path) -> dict[str, Any] | None:
    """The manifest of a folder written by :func:`extend`, or None if there is none."""
    path = Path(split_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"corrupt manifest {path} ({err}); delete it and prepare the data again") from err


def write_manifest(split_dir: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically."""
    _atomic_write(Path(split_dir) / MANIFEST, lambda fh: fh.write(json.dumps(manifest, indent=1).encode()))


def _produce_and_write(split_dir: Path, produce: Producer, start: int, stop: int) -> int:
    arrays = produce(start, stop)
    for folder, stacked in arrays.items():
        (split_dir / folder).mkdir(parents=True, exist_ok=True)
        for offset, array in enumerate(stacked):
            save_npy(split_dir / folder / f"{start + offset}.npy", array)
    return stop - start


def extend(
    split_dir: Path,
    meta: dict[str, Any],
    total: int,
    produce: Producer,
    chunk: int = 64,
    workers: int = 1,
    desc: str = "",
) -> int:
    """Make sure samples 0..total-1 made with parameters ``meta`` exist under ``split_dir``.

    Only the missing samples are produced, ``chunk`` at a time (in ``workers`` processes; ``produce``
    must then be picklable), with a progress bar. The manifest's ``count`` advances after each
    chunk whose files are all written, so an interrupted run loses at most the chunks in flight;
    files beyond ``count`` are simply overwritten next time. A manifest with other ``meta`` (say,
    from an older renderer) means the folder is stale: everything is produced again. Returns the
    number of complete samples (at least ``total``).
    """
    split_dir = Path(split_dir)
    manifest = read_manifest(split_dir)
    done = manifest["count"] if manifest is not None and manifest.get("meta") == meta else 0
    if done >= total:
        return done
    split_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(split_dir, {"meta": meta, "count": done})
    starts = list(range(done, total, chunk))
    stops = [min(start + chunk, total) for start in starts]
    task = partial(_produce_and_write, split_dir, produce)
    with tqdm(total=total, initial=done, desc=desc or str(split_dir), unit="sample") as bar, ExitStack() as stack:
        mapper = stack.enter_context(ProcessPoolExecutor(workers)).map if workers > 1 else map
        # Results arrive in submission order, so the manifest only ever covers a prefix of complete chunks.
        for stop, n_written in zip(stops, mapper(task, starts, stops), strict=True):
            write_manifest(split_dir, {"meta": meta, "count": stop})
            bar.update(n_written)
    return total
