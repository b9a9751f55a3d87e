"""Prepare the offline data under a data root: every benchmark whose data is made here and prepared ahead
of its runs (its declaration's ``source``, autoscale.benchmarks: ``Offline(prepare=...)``), today
MultiMNIST's three splits and the procedural scenes at the sizes each requested run profile reads.
Preparing is incremental, so re-running, or asking for a bigger profile later, only makes what is
missing. Real NYUv2 / CityScapes are not offline: see download_nyuv2.py and download_cityscapes.py.

The smoke profile is always prepared; --profile adds others (the Makefile passes its PROFILE).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autoscale.benchmarks import Offline, benchmarks
from autoscale.experiments.profiles import PROFILES


def profiles(requested: list[str] | None) -> list[str]:
    """smoke, then the requested profiles, in PROFILES order, without repeats."""
    wanted = {"smoke", *(requested or ())}
    unknown = wanted - set(PROFILES)
    if unknown:
        raise SystemExit(f"unknown profile(s) {sorted(unknown)}; valid: {', '.join(PROFILES)}")
    return [p for p in PROFILES if p in wanted]


def main(argv: list[str] | None = None) -> int:
    prepared = {b.name: b.source.prepare for b in benchmarks() if isinstance(b.source, Offline) and b.source.prepare}
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="data root (the Makefile's DATA_ROOT)")
    parser.add_argument(
        "--profile", action="append", choices=list(PROFILES), help="run profile to prepare data for (repeatable)"
    )
    parser.add_argument(
        "--benchmark", action="append", choices=list(prepared), help="only this benchmark (repeatable; default: all)"
    )
    parser.add_argument(
        "--workers", type=int, default=min(os.cpu_count() or 1, 8), help="rendering processes (default: cores, max 8)"
    )
    args = parser.parse_args(argv)
    root = args.root.expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    wanted = profiles(args.profile)
    status = 0
    for name, prepare in prepared.items():
        if args.benchmark and name not in args.benchmark:
            continue
        try:
            prepare(root, wanted, args.workers)
        except FileNotFoundError as err:  # a missing source: the message says how to get it; the others go on
            print(f"error: {err}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
