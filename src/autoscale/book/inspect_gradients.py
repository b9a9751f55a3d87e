"""MTO metrics of a real model's task gradients, for the "MTO metrics" chapter.

A *snapshot* is one batch's task losses l (K,) and Gramian G (K x K) of the task gradients with
respect to the shared parameters, exactly what the trainer computes at a step
(:mod:`autoscale.gramian`). Every metric of :mod:`autoscale.metrics` is a function of (G, l, l_0)
and the task weights w, so a snapshot can be re-evaluated under any linear-scalarization (LS)
weight set without another backward pass: weighting the losses by w weights the gradients by w,
whose Gramian is W G W.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from autoscale import metrics
from autoscale.gramian import compute_gramian
from autoscale.training.tasks import stack_losses
from autoscale.training.trainer import Trainer


def training_batch(trainer: Trainer, index: int = 0) -> tuple[Tensor, dict[str, Tensor]]:
    """Batch ``index`` of the trainer's training split in dataset order (no shuffling), on its device."""
    loader = DataLoader(trainer.datasets["train"], batch_size=trainer.config.batch_size, shuffle=False)
    if not 0 <= index < len(loader):
        raise IndexError(f"the training split has {len(loader)} batches, asked for batch {index}")
    x, targets = next(islice(loader, index, None))
    return x.to(trainer.device), {k: v.to(trainer.device) for k, v in targets.items()}


def gradient_snapshot(trainer: Trainer, batch: tuple[Tensor, dict[str, Tensor]]) -> dict[str, Tensor]:
    """Task losses ``losses`` (K,) and Gramian ``gramian`` (K, K) of one batch at the current model.

    The forward pass is the trainer's (model in training mode), the Gramian is taken w.r.t. the
    shared parameters as in a training step; nothing is updated. Both are detached, on the CPU.
    """
    x, targets = batch
    model = trainer.model
    losses = stack_losses(trainer.tasks, model.decode(model.encoder(x)), targets)
    gramian = compute_gramian(losses, model.shared_parameters(), retain_graph=False)
    return {"losses": losses.detach().cpu(), "gramian": gramian.cpu()}


def step_metrics(
    gramian: Tensor,
    losses: Tensor,
    l0: Tensor,
    w: Tensor | Sequence[float] | None = None,
) -> dict[str, float]:
    """Every single-step metric of the paper's Appendix C for one snapshot, under LS weights w
    (equal weights if None), with :func:`autoscale.metrics.summarize_step`'s keys.

    All of :func:`~autoscale.metrics.summarize_step` (``gms``, ``cos``, ``cond``, ``cond_raw``, the
    spreads ``itr_std``, ``rls_std``, ``rgm_std`` and per task i ``weight_i``, ``loss_i``,
    ``grad_norm_i``, ``itr_i``, ``cos_update_i``), and the metrics it logs only as a spread or not
    at all: ``magnitude_ratio`` min/max of the weighted gradient norms (mean over pairs i < j, as
    ``gms``), and per task ``rgm_i`` relative gradient magnitude of w_i g_i, ``relative_itr_i``
    relative inverse training rate, ``rls_i`` relative loss scale of w_i l_i, ``cos_mean_i`` cosine
    to the mean gradient and ``projected_magnitude_i`` (G w)_i / |g_i| (raw gradients).
    """
    g = torch.as_tensor(gramian, dtype=torch.float64)
    num_tasks = g.shape[-1]
    w = torch.ones(num_tasks, dtype=g.dtype) if w is None else torch.as_tensor(w, dtype=g.dtype)
    loss = torch.as_tensor(losses, dtype=g.dtype)
    gw = metrics.weighted_gramian(g, w)
    pairs = torch.triu_indices(num_tasks, num_tasks, offset=1)
    out = metrics.summarize_step(g, loss, l0, w)
    out["magnitude_ratio"] = metrics.magnitude_ratio(gw)[pairs[0], pairs[1]].mean().item()
    per_task = {
        "rgm": metrics.relative_gradient_magnitude(gw),
        "relative_itr": metrics.relative(torch.tensor([out[f"itr_{i}"] for i in range(num_tasks)], dtype=g.dtype)),
        "rls": metrics.relative_loss_scale(w * loss),
        "cos_mean": metrics.cosine_to_mean(g),
        "projected_magnitude": metrics.projected_magnitude(g, w),
    }
    for name, values in per_task.items():
        out.update({f"{name}_{i}": v for i, v in enumerate(values.tolist())})
    return out


def metrics_over_weights(
    gramian: Tensor,
    losses: Tensor,
    l0: Tensor,
    weight_sets: Sequence[Sequence[float]],
) -> pd.DataFrame:
    """:func:`autoscale.metrics.summarize_step` of one snapshot under each LS weight set.

    One row per weight set, indexed by the tuple of weights, with the keys the trainer logs
    (``gms``, ``cos``, ``cond``, ``rls_std``, ``rgm_std``, ``itr_std``, ``cos_update_i``, ...),
    so the table reads like the logged trajectories. The ``*_raw`` keys, losses, gradient norms
    and weights are left out: they do not depend on the weights or repeat the index.
    """
    rows = {
        tuple(float(v) for v in w): metrics.summarize_step(gramian, losses, l0, torch.as_tensor(w, dtype=torch.float64))
        for w in weight_sets
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    dropped = [c for c in table.columns if c.endswith("_raw") or c.startswith(("loss_", "grad_norm_", "weight_"))]
    table = table.drop(columns=dropped)
    table.index.name = "weights"
    return table


def default_window(total_steps: int) -> int:
    """Window τ for loss metrics over a run: AutoScale's τ = 50, shrunk to give short runs about 8
    windows, but never below 2 steps (a one-step window has no variance)."""
    return max(2, min(50, total_steps // 8))


def window_loss_metrics(step_losses: Sequence[Sequence[float]] | np.ndarray, window: int) -> dict[str, np.ndarray]:
    """Loss metrics over disjoint windows of ``window`` steps of a run's per-step losses (T, K).

    Keys: ``step`` (W,) the centre step of each window; ``mean`` (W, K) the window means;
    ``variance`` (W, K) the per-task loss variance within each window (stability);
    ``descending_rate`` and ``improvement_ratio`` (W-1, K) between consecutive window means, the
    loss descending rate (l_prev - l_cur)/l_prev and DWA's ratio l_cur/l_prev (Liu et al. 2019),
    placed at the later window's centre (``step[1:]``). A trailing incomplete window is dropped.
    """
    losses = torch.as_tensor(np.asarray(step_losses), dtype=torch.float64)
    num_windows = losses.shape[0] // window
    if num_windows < 2:
        raise ValueError(f"{losses.shape[0]} steps give fewer than 2 windows of {window} steps")
    means = metrics.windowed_mean(losses, window)
    blocks = losses[: num_windows * window].reshape(num_windows, window, -1)
    return {
        "step": window * np.arange(num_windows) + (window - 1) / 2,
        "mean": means.numpy(),
        "variance": metrics.loss_variance(blocks).numpy(),
        "descending_rate": metrics.loss_descending_rate(means[:-1], means[1:]).numpy(),
        "improvement_ratio": metrics.improvement_ratio(means[:-1], means[1:]).numpy(),
    }
