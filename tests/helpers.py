"""Small models and fake run records shared by several test modules (importable: pytest puts tests/ on
sys.path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from autoscale.experiments.run_record import RunRecord


def small_cnn() -> nn.Module:
    """A two-conv encoder with BatchNorm for 1x12x12 inputs; representation (B, 8)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 3 * 3, 8),
    )


TASKS = {
    "a": {"primary": "acc", "higher_is_better": {"acc": True}},
    "b": {"primary": "err", "higher_is_better": {"err": False}},
}


def record(
    method="linear", seed=0, test=None, val=None, weights=None, step_s=0.01, metrics=None, tasks=TASKS, switch=None
):
    """A run record with only the fields the tables read (AutoScale's from ``switch`` on)."""
    test = test or {"a": 50.0, "b": 2.0}
    val = val or test
    final = {
        split: {t: {tasks[t]["primary"]: v} for t, v in values.items()}
        for split, values in (("test", test), ("val", val))
    }
    options = {"weights": weights} if weights is not None else {}
    autoscale = {
        "window_steps": [],
        "window_weights": [],
        "final_weights": None,
        "switch_step": switch,
        "config": {"window": 1, "gamma": 0.5},
    }
    return RunRecord(
        {
            "config": {"method": method, "seed": seed, "method_options": options, "metrics_every": 1},
            "tasks": {t: tasks[t] for t in test},
            "final": final,
            "median_step_time_s": step_s,
            "steps": {"time_s": [step_s] * 10},
            "metrics": metrics or {},
            "method": {} if switch is None else autoscale,
        }
    )


SYNCING: set[Callable[..., Any]] = {
    Tensor.item,
    Tensor.tolist,
    Tensor.numpy,
    Tensor.cpu,
    Tensor.__bool__,
    Tensor.__int__,
    Tensor.__float__,
    Tensor.__index__,
    Tensor.__array__,
    Tensor.nonzero,
    torch.nonzero,
    torch.argwhere,
    torch.masked_select,
    torch.unique,
    torch.unique_consecutive,
    torch.repeat_interleave,
    # These read LAPACK's error code on the host ("synchronizes that device with the CPU").
    torch.linalg.eigh,
    torch.linalg.eigvalsh,
    torch.linalg.svd,
    torch.linalg.svdvals,
    torch.linalg.pinv,
    torch.linalg.solve,
    torch.linalg.inv,
    torch.linalg.cholesky,
    torch.linalg.lstsq,
    torch.linalg.eig,
    torch.linalg.matrix_rank,
}


class NoHostSync(TorchFunctionMode):
    """Fails on every call that would make the host wait for a CUDA device: reading a value, a
    copy from or to the host, an output shape that depends on values, a LAPACK error check. With
    ``device_inputs`` (inputs on the meta device), also on host data entering a device computation."""

    def __init__(self, device_inputs: bool) -> None:
        super().__init__()
        self.device_inputs = device_inputs

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__qualname__", repr(func))
        # With device inputs, reading a host scalar (an optimiser's step count) waits for nothing.
        host_read = (
            self.device_inputs and isinstance(args[0] if args else None, Tensor) and args[0].device.type == "cpu"
        )
        assert func not in SYNCING or host_read, f"synchronising call {name}"
        assert not kwargs.get("check_errors", False), f"{name} with its error check"
        assert not (func is torch.where and len(args) == 1), "torch.where(condition) is nonzero"
        if func in (Tensor.__getitem__, Tensor.__setitem__):
            index = tree_leaves(args[1])
            assert not any(isinstance(i, list) or (isinstance(i, Tensor) and i.dtype == torch.bool) for i in index), (
                f"{name} with a host list or a boolean mask"
            )
        if self.device_inputs:
            host = [t for t in tree_leaves((args, kwargs)) if isinstance(t, Tensor) and t.device.type == "cpu"]
            assert not [t for t in host if t.dim() > 0], f"host tensor in {name}"
            if func is Tensor.to:
                device = torch._C._nn._parse_to(*args[1:], **kwargs)[0]
                assert device is None or device.type == "meta", f"{name} to {device}"
        return func(*args, **kwargs)
