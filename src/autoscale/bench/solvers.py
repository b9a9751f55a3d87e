"""Weight solves of a stack of runs: one run after another against batched on the device.

    python -m autoscale.bench.solvers [--device cuda] [--sizes 8 32 64] [--tasks 3]

For each method with a batched solver (:mod:`autoscale.methods.batched`) and each stack size n, the
stack's weights are solved from the same random Gramians (n, K, K) on the device twice: by each
run's own ``weights``, one run after another (what the stacked trainer did before), and by
:func:`~autoscale.methods.batched.stacked_weights`. Prints one JSON line per (method, n): the median
wall time of each over the repetitions and their ratio (per-run / batched; above 1: batching pays).
On a GPU the device is synchronised after each solve, as the next training step would wait for it;
CAGrad and Nash-MTL (one transfer each way) are timed the same way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterable, Iterator

import torch

from autoscale.methods import build_method
from autoscale.methods.batched import stacked_weights

METHODS = ("imtlg", "mgda", "alignedmtl", "upgrad", "dualproj", "cagrad", "nashmtl")


def random_gramians(n: int, k: int, device: torch.device, seed: int = 0) -> torch.Tensor:
    """n Gramians J J^T of random task Jacobians (K, 64) whose rows share a common direction
    (the correlated gradients of one model's tasks)."""
    generator = torch.Generator().manual_seed(seed)
    common = torch.randn(n, 1, 64, generator=generator)
    jacobians = common + 0.5 * torch.randn(n, k, 64, generator=generator)
    return (jacobians @ jacobians.mT).to(device)


def median_seconds(solve: Callable[[], torch.Tensor], device: torch.device, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):  # the first call warms up (kernels, caches)
        started = time.perf_counter()
        solve()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def bench(method: str, n: int, k: int, device: torch.device, repeats: int) -> dict[str, float | int | str]:
    """Per-run and batched solve times of a stack of ``n`` runs of ``method`` with ``k`` tasks."""
    if method == "mgda" and k != 2:
        k = 2  # the batched MGDA is the K = 2 closed form
    gramians = random_gramians(n, k, device)
    losses = torch.rand(n, k, generator=torch.Generator().manual_seed(1)).to(device)
    per_run = [build_method(method, k) for _ in range(n)]
    together = [build_method(method, k) for _ in range(n)]
    rows = list(gramians.unbind(0))

    def one_by_one() -> torch.Tensor:
        return torch.stack([m.weights(losses[i], rows[i]).to(losses) for i, m in enumerate(per_run)])

    def batched() -> torch.Tensor:
        return stacked_weights(together, losses, rows)

    loop_s, batched_s = median_seconds(one_by_one, device, repeats), median_seconds(batched, device, repeats)
    return {
        "method": method,
        "tasks": k,
        "runs": n,
        "per_run_s": loop_s,
        "batched_s": batched_s,
        "per_run_over_batched": loop_s / batched_s,
    }


def rows(
    device: torch.device, sizes: Iterable[int], k: int = 3, repeats: int = 5, methods: Iterable[str] = METHODS
) -> Iterator[dict[str, float | int | str]]:
    """:func:`bench` of every method at every stack size, one row at a time (methods outer)."""
    sizes = list(sizes)
    for method in methods:
        for n in sizes:
            yield bench(method, n, k, device, repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autoscale.bench.solvers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 32, 64], help="runs per stack")
    parser.add_argument("--tasks", type=int, default=3, help="K (MGDA is timed at K = 2)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    for row in rows(torch.device(args.device), args.sizes, args.tasks, args.repeats, args.methods):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
