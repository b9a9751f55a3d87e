"""One training step, stage by stage (:class:`TrainStep`): shared by the trainer and the step-time benchmark."""

from __future__ import annotations

import contextlib
import time

import torch
from torch import Tensor, nn

from autoscale.gramian import SplitGradients, compute_gramian, last_layer_parameters, parse_gramian_mode
from autoscale.methods import Weighting
from autoscale.methods.autoscale import AutoScale
from autoscale.methods.base import check_step_inputs
from autoscale.metrics import summarize_step
from autoscale.training.config import InvalidStepInputs
from autoscale.training.device import autocast_context, sync
from autoscale.training.models import MultiTaskModel
from autoscale.training.step_log import StepLog
from autoscale.training.tasks import Task, stack_losses


def linear_objective(method: Weighting) -> bool:
    """Whether the objective of a step on which ``method`` takes a Gramian is ``sum_i w_i L_i``
    (the base :meth:`Weighting.objective`).

    AutoScale takes Gramians in phase 1 only, where its weights and objective are the exploration
    method's (class docstring of :class:`autoscale.methods.autoscale.AutoScale`), so that method decides.
    """
    if isinstance(method, AutoScale):
        method = method.explore_method
    return type(method).objective is Weighting.objective


def log_step_metrics(state: dict, step: int, gramian: Tensor, losses: Tensor, weights: Tensor) -> None:
    """Append the MTO metrics of one step (:func:`autoscale.metrics.summarize_step`, float64) to
    ``state["metrics"]``; the first logged losses are the run's L(0)."""
    if state["initial_loss"] is None:
        state["initial_loss"] = losses.cpu().tolist()
    l0 = torch.tensor(state["initial_loss"], dtype=losses.dtype, device=losses.device)
    summary = summarize_step(gramian, losses, l0, weights)
    traj = state["metrics"]
    traj.setdefault("step", []).append(step)
    for key, value in summary.items():
        traj.setdefault(key, []).append(value)


class TrainStep:
    """One training step of the module docstring, without data loading (the trainer and the
    step-time benchmark :mod:`autoscale.bench` share it).

    Gramian steps split the backward at the shared representation (:class:`SplitGradients`): the
    method's Gramian comes from per-task gradients of the encoder (``gramian`` mode ``exact``), of
    its last layer (``last_layer``) or of the representation (``representation``; always for
    methods with ``gramian_source == "representation"``, i.e. MGDA-UB). When the objective is
    sum_i w_i L_i the update reuses those per-task gradients, so an exact Gramian step needs no
    extra backward pass; otherwise (UW as AutoScale's explorer) ``method.objective`` is
    back-propagated as usual. With ``every:s`` the Gramian is computed on steps t % s == 0 and the
    last one is passed to the method on the steps in between; it lives in ``state["gramian_cache"]``
    so that it survives a checkpoint. AutoScale then records that stale Gramian with the step's
    fresh losses: each window mean is over about τ/s distinct Gramians, each repeated s times, so
    its weights estimate the same window average (this is what the cheap-Gramian study measures).

    The metrics Gramian of ``metrics_every`` is always the exact one (so that logged metrics mean
    the same across modes); it is reused when the method took it this step, else computed apart
    and excluded from ``step_time_s``.
    """

    def __init__(
        self,
        model: MultiTaskModel,
        tasks: list[Task],
        method: Weighting,
        optimizer: torch.optim.Optimizer,
        *,
        gramian: str = "exact",
        metrics_every: int = 0,
        max_grad_norm: float | None = None,
        precision: str = "fp32",
    ) -> None:
        self.model, self.tasks, self.method, self.optimizer = model, tasks, method, optimizer
        self.mode = parse_gramian_mode(gramian)
        self.metrics_every = metrics_every
        self.max_grad_norm = max_grad_norm
        self.task_names = [t.name for t in tasks]
        self.device = next(model.parameters()).device
        self.precision = precision
        self.log = StepLog(self.device)

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast of the forward pass and losses (``precision="bf16"``, CUDA only), else nothing."""
        return autocast_context(self.device, self.precision)

    def _method_gramian(self, split: SplitGradients, linear: bool) -> Tensor:
        if self.method.gramian_source == "representation" or self.mode.source == "representation":
            return split.representation_gramian()
        if self.mode.source == "last_layer":
            return split.parameter_gramian(last_layer_parameters(self.model.encoder))
        return split.parameter_gramian(self.model.shared_parameters(), keep=linear)

    def __call__(self, x: Tensor, targets: dict[str, Tensor], step: int, state: dict) -> None:
        """One step; its losses, weights and time go to :attr:`log` (flushed by the caller)."""
        method, model = self.method, self.model
        log_metrics = self.metrics_every > 0 and step % self.metrics_every == 0
        timer = self.log.timer()
        with self.autocast():
            representation = model.encoder(x)
            outputs = model.decode(representation)
            task_losses = [t.loss(outputs[t.name], targets[t.name]).float() for t in self.tasks]
        losses = torch.stack(task_losses)
        split, gramian, fresh_exact = None, None, False
        linear = linear_objective(method)
        if method.needs_gramian and (step % self.mode.every == 0 or state.get("gramian_cache") is None):
            heads = [list(model.heads[name].parameters()) for name in self.task_names]
            split = SplitGradients(task_losses, representation, heads)
            gramian = self._method_gramian(split, linear).detach()
            fresh_exact = method.gramian_source == "shared" and self.mode.source == "exact"
            if self.mode.every > 1:
                state["gramian_cache"] = gramian
        elif method.needs_gramian:
            gramian = state["gramian_cache"]
        # On a GPU a step without a Gramian is checked at the epoch's flush (StepLog): checking it
        # here would make the host wait for the device every step.
        if gramian is not None or not self.log.deferred:
            try:
                check_step_inputs(
                    len(self.tasks), losses, gramian, needs_gramian=method.needs_gramian, task_names=self.task_names
                )
            except ValueError as err:
                raise InvalidStepInputs(str(err)) from err
        weights = method.weights(losses.detach(), gramian)
        if log_metrics:
            sync(self.device)
            t_metric = time.perf_counter()
            exact = gramian if fresh_exact else compute_gramian(losses, model.shared_parameters(), retain_graph=True)
            # float64: the metrics are ratios of Gramian entries (GMS, condition number)
            log_step_metrics(state, step, exact.detach().double(), losses.detach().double(), weights.detach().double())
            sync(self.device)
            timer.exclude(time.perf_counter() - t_metric)
        self.optimizer.zero_grad(set_to_none=True)
        if split is not None and linear:
            split.backward(weights)
        else:
            method.objective(losses, weights).backward()
        if self.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.shared_parameters(), self.max_grad_norm)
        self.optimizer.step()
        if method.needs_post_step_losses:
            with torch.no_grad(), self.autocast():
                method.post_step(stack_losses(self.tasks, model(x), targets).float())
        self.log.add(losses, weights, timer)
