"""Scenes per second of the procedural renderer (autoscale.training.datasets.scenes.render), both kinds, one process.

    python data_scripts/bench_render.py [--n 100] [--height 96 --width 128] [--repeats 3]

Without --height/--width it measures 96x128 and 192x256. Reports the best of --repeats runs (wall clock) and the
process CPU time, since the machine may be shared. Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time

from autoscale.training.datasets.scenes import KINDS, render


def measure(kind: str, n: int, height: int, width: int, repeats: int) -> tuple[float, float]:
    """Best scenes/second over ``repeats`` renders of ``n`` scenes, by wall clock and by process CPU time."""
    render(kind, 2, height, width, seed=0)  # warm caches (ray grids)
    best_wall = best_cpu = float("inf")
    for repeat in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        render(kind, n, height, width, seed=repeat + 1)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return n / best_wall, n / best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="scenes per run")
    parser.add_argument("--height", type=int, help="image height (default: 96 and 192)")
    parser.add_argument("--width", type=int, help="image width (default: 128 and 256)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if (args.height is None) != (args.width is None):
        parser.error("give both --height and --width, or neither")
    sizes = [(args.height, args.width)] if args.height else [(96, 128), (192, 256)]
    for height, width in sizes:
        for kind in KINDS:
            wall, cpu = measure(kind, args.n, height, width, args.repeats)
            print(f"{kind:7s} {height}x{width}: {wall:7.1f} scenes/s (wall), {cpu:7.1f} scenes/s (CPU time)")


if __name__ == "__main__":
    main()
