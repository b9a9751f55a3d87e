"""Prepare the offline data under a data root: MultiMNIST and the procedural scenes.

MultiMNIST's three splits are built with their defaults (autoscale.training.datasets.multimnist.load_split). The
scenes (indoor and street, train/val/test, seed 0) are rendered at the sizes each requested run profile
uses (its data profile in autoscale.training.datasets.scene_datasets.SCENE_SIZES, with the image size the run
profile may set, autoscale.experiments.profiles.PROFILE_SETTINGS); rendering is incremental, so re-running, or
asking for a bigger profile later, only renders what is missing. Real NYUv2 / CityScapes are not
offline: see download_nyuv2.py and download_cityscapes.py.

The smoke profile is always prepared; --profile adds others (the Makefile passes its PROFILE).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from autoscale.experiments.profiles import PROFILE_SETTINGS, PROFILES
from autoscale.training.datasets.multimnist import SPLITS, load_split
from autoscale.training.datasets.scene_datasets import SCENE_SIZES, TASKS, ensure_scenes


def profiles(requested: list[str] | None) -> list[str]:
    """smoke, then the requested profiles, in PROFILES order, without repeats."""
    wanted = {"smoke", *(requested or ())}
    unknown = wanted - set(PROFILES)
    if unknown:
        raise SystemExit(f"unknown profile(s) {sorted(unknown)}; valid: {', '.join(PROFILES)}")
    return [p for p in PROFILES if p in wanted]


def scene_sizes(profile: str, kind: str) -> dict[str, int]:
    """Image size and scenes per split that the runs of ``scenes-{kind}`` at run profile ``profile`` read."""
    data = PROFILE_SETTINGS[f"scenes-{kind}"][profile].get("data", {})
    return {**SCENE_SIZES[data.get("profile", profile)], **{k: data[k] for k in ("height", "width") if k in data}}


def prepare_multimnist(root: Path) -> None:
    start = time.perf_counter()
    for split in SPLITS:
        images, _ = load_split(root, split)
        print(f"multimnist {split}: {len(images)} images")
    print(f"multimnist ready in {time.perf_counter() - start:.1f} s")


def prepare_scenes(root: Path, profile: str, workers: int) -> None:
    for kind in TASKS:
        sizes = scene_sizes(profile, kind)
        start = time.perf_counter()
        for split in ("train", "val", "test"):
            ensure_scenes(root, kind, split, sizes[split], sizes["height"], sizes["width"], seed=0, workers=workers)
        counts = "/".join(str(sizes[s]) for s in ("train", "val", "test"))
        print(
            f"scenes-{kind} [{profile}] {sizes['height']}x{sizes['width']}, train/val/test {counts}: "
            f"ready in {time.perf_counter() - start:.1f} s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="data root (the Makefile's DATA_ROOT)")
    parser.add_argument(
        "--profile", action="append", choices=list(PROFILES), help="run profile to render scenes for (repeatable)"
    )
    parser.add_argument(
        "--workers", type=int, default=min(os.cpu_count() or 1, 8), help="rendering processes (default: cores, max 8)"
    )
    parser.add_argument("--skip-multimnist", action="store_true", help="only render the scenes")
    args = parser.parse_args(argv)
    root = args.root.expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    status = 0
    if not args.skip_multimnist:
        try:
            prepare_multimnist(root)
        except FileNotFoundError as err:  # the message says how to get MNIST; the scenes need nothing
            print(f"error: {err}", file=sys.stderr)
            status = 1
    for profile in profiles(args.profile):
        prepare_scenes(root, profile, args.workers)
    return status


if __name__ == "__main__":
    sys.exit(main())
