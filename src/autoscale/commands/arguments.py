"""What the command-line modules share: the one-line error for bad input, the command that
downloads a real dataset, the device check and the engine options (local processes or Ray)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loads torch; `--help` must not
    from autoscale.experiments.ray_engine import RayEngine


class UsageError(SystemExit):
    """Bad command-line input. It ends the command as argparse ends it on its own errors, with a
    SystemExit of status 2 (so a caller of :func:`main` sees the same exception for both), after
    :func:`main` has printed the message as one ``error:`` line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = 2  # the exit status; str(self) stays the message


def download_command(benchmark: str) -> str:
    """The command that downloads the real dataset ``benchmark`` into the data root."""
    from autoscale.benchmarks import Download, benchmarks
    from autoscale.benchmarks import benchmark as declared_benchmark
    from autoscale.training.paths import data_root

    source = declared_benchmark(benchmark).source
    if not isinstance(source, Download):
        downloaded = ", ".join(b.name for b in benchmarks() if b.downloaded)
        raise ValueError(f"{benchmark!r} is not a downloaded dataset ({downloaded})")
    return source.command.format(root=data_root())


def check_device(name: str) -> None:
    """:class:`UsageError` unless ``name`` is a device torch knows and this machine has."""
    from autoscale.training.device import resolve_device

    try:
        resolve_device(name)
    except (ValueError, RuntimeError) as err:  # RuntimeError: a name torch cannot parse
        raise UsageError(f"--device {name}: {err}") from err


def add_engine_arguments(sub: argparse.ArgumentParser) -> None:
    """``--engine local|ray`` and the Ray engine's options (autoscale.experiments.ray_engine)."""
    sub.add_argument(
        "--engine", choices=("local", "ray"), default="local", help="local processes (default) or Ray tasks"
    )
    sub.add_argument("--address", help="Ray: the cluster to join ('auto': this node's); default a local instance")
    sub.add_argument("--gpus-per-run", type=float, default=0.0, help="Ray: the share of a GPU each run gets")


def engine_from(args: argparse.Namespace) -> RayEngine | None:
    """The Ray engine the arguments ask for, or None for the local one."""
    from autoscale.experiments.ray_engine import RayEngine

    if args.engine == "local":
        if args.address or args.gpus_per_run:
            raise UsageError("--address and --gpus-per-run apply to --engine ray only")
        return None
    return RayEngine(address=args.address, gpus_per_run=args.gpus_per_run)
