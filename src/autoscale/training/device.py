"""The device a run trains on: seeding, RNG state, CUDA settings, provenance (commit, device name)."""

from __future__ import annotations

import contextlib
import os
import platform
import random
import subprocess
from pathlib import Path

import numpy as np
import torch
from torch import Tensor


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# The global generator is re-seeded at the start of every epoch from (seed, epoch), so that a run
# resumed at an epoch draws what an uninterrupted run draws there (dropout, random weightings); a
# prime multiplier keeps the epoch seeds of different run seeds apart.
EPOCH_SEED_STRIDE = 7919


def seed_epoch(seed: int, epoch: int) -> None:
    """Seed the global generator for ``epoch`` of the run seeded ``seed`` (see above)."""
    torch.manual_seed(seed * EPOCH_SEED_STRIDE + epoch)


def git_commit() -> str:
    """The checkout's commit (with ``-dirty`` if the package's files have local changes), or ``unknown``."""
    if os.environ.get("AUTOSCALE_GIT_COMMIT"):  # a copy of the tree without .git (a GPU machine)
        return os.environ["AUTOSCALE_GIT_COMMIT"]
    here = Path(__file__).resolve().parents[1]  # the package root
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            # Only the package's own files: records written into results/ by the run itself are
            # not a change of the code that made them.
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
            cwd=here,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available; use device='cpu'")
    return torch.device(name)


def to_device(batch: tuple[Tensor, dict[str, Tensor]], device: torch.device) -> tuple[Tensor, dict[str, Tensor]]:
    x, targets = batch
    return x.to(device, non_blocking=True), {k: v.to(device, non_blocking=True) for k, v in targets.items()}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def restore_rng(torch_rng: Tensor, cuda_rng: list[Tensor] | None) -> None:
    """Set the RNG states a checkpoint saved. They are byte tensors that must be on the CPU
    (``torch.load`` with a CUDA ``map_location`` moves them to the GPU)."""
    torch.set_rng_state(torch_rng.cpu())
    if cuda_rng is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in cuda_rng])


def autocast_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CUDA for ``precision="bf16"``; a no-op otherwise (CPU runs stay float32)."""
    if precision == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare_device(device: torch.device) -> None:
    """cuDNN autotuning on CUDA: fixed shapes every step, so the best kernels are found once.
    TF32 stays off for matmuls (PyTorch's default), so Gramians are accumulated in full float32."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False


def peak_memory(device: torch.device) -> dict[str, int]:
    """``{"peak_gpu_memory_bytes": ...}`` on CUDA (since the last reset), ``{}`` on the CPU."""
    if device.type != "cuda":
        return {}
    return {"peak_gpu_memory_bytes": int(torch.cuda.max_memory_allocated(device))}
