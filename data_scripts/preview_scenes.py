"""Render a few procedural scenes of each kind and save a grid of all their label maps as one PNG.

    python data_scripts/preview_scenes.py --out /tmp/scenes-preview.png [--n 5 --height 96 --width 128 --seed 0]

One block of rows per kind; columns: rgb, depth, normal, semantic, instance, edge and (street) disparity.
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from autoscale.training.datasets.scenes import render

_COLUMNS = ("image", "depth", "normal", "semantic", "instance", "edge", "disparity")


def _panel(key: str, batch: dict, i: int) -> tuple[np.ndarray, dict]:
    """Array and imshow options for one label map of scene ``i``."""
    value = batch[key][i]
    if key == "normal":  # x right, y down, z forward mapped to rgb; invalid stays black
        return np.where(np.abs(value).sum(-1, keepdims=True) > 0, value * 0.5 + 0.5, 0.0), {}
    if key == "semantic":
        return value, {"cmap": "tab10", "vmin": 0, "vmax": 9, "interpolation": "nearest"}
    if key == "instance":
        shown = np.where(value > 0, (value * 7) % 20 + 1, 0)
        return np.ma.masked_equal(shown, 0), {"cmap": "tab20", "vmin": 1, "vmax": 20, "interpolation": "nearest"}
    if key in ("depth", "disparity"):  # near is dark for depth; far street depths are clipped at the 95th percentile
        valid = value[value > 0]
        top = np.percentile(valid, 95) if key == "depth" and valid.size else None
        return np.ma.masked_equal(value, 0), {"cmap": "viridis", "vmin": 0, "vmax": top}
    if key == "edge":
        return value, {"cmap": "gray", "vmin": 0, "vmax": 1, "interpolation": "nearest"}
    return value, {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="PNG path to write")
    parser.add_argument("--n", type=int, default=5, help="scenes per kind")
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    batches = {kind: render(kind, args.n, args.height, args.width, args.seed) for kind in ("indoor", "street")}
    ncols = len(_COLUMNS)
    fig, axes = plt.subplots(2 * args.n, ncols, figsize=(2.2 * ncols, 1.75 * 2 * args.n), squeeze=False)
    for block, (kind, batch) in enumerate(batches.items()):
        for i in range(args.n):
            row = block * args.n + i
            for col, key in enumerate(_COLUMNS):
                ax = axes[row, col]
                ax.set_xticks([])
                ax.set_yticks([])
                if key not in batch:
                    ax.axis("off")
                    continue
                array, options = _panel(key, batch, i)
                ax.set_facecolor("black")  # masked pixels: sky in depth/disparity, background in instance
                ax.imshow(array, **options)
                if row in (0, args.n):
                    ax.set_title(f"{kind}: {key}" if col == 0 else key, fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
