"""One training step, stage by stage (:class:`TrainStep`), shared by the trainer and the benchmark.

1. **forward**: the shared encoder, then every task head; the K task losses;
2. **task gradients**, if the method needs the K x K Gramian G_ij = g_i · g_j of the task
   gradients (w.r.t. the shared parameters, or the shared representation for MGDA-UB;
   ``RunConfig.gramian`` selects a cheaper Gramian);
3. **weights**: the inputs are checked, then the method maps (losses, G) to task weights w;
4. **metrics**, every ``metrics_every`` steps: the MTO metrics of
   :func:`autoscale.metrics.summarize_step` (timed apart, so a step's time is the method's cost);
5. **update**: the gradient of ``method.objective(losses, w)`` (= Σ w_i L_i for all but UW),
   assembled from the per-task gradients of step 2 when there are any (no extra backward pass),
   optional gradient clipping, the optimiser step, then ``method.post_step`` (FAMO);
6. **log**: losses, weights and the step's time go to the :class:`~autoscale.training.step_log.StepLog`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from autoscale.gramian import SplitGradients, gramians, last_layer_parameters, parse_gramian_mode
from autoscale.methods.base import Weighting, check_step_inputs
from autoscale.training.config import InvalidStepInputs
from autoscale.training.device import autocast_context, sync
from autoscale.training.models import MultiTaskModel
from autoscale.training.state import RunState
from autoscale.training.step_log import StepLog, StepTimer
from autoscale.training.tasks import Task, stack_losses


@dataclass
class TaskGradients:
    """Stage 2's result: the method's Gramian (None if it needs none) and, when computed this step,
    the per-task gradients it came from (``split``); ``exact`` says whether the Gramian is the
    exact one over the shared parameters (then the metrics of stage 4 reuse it)."""

    gramian: Tensor | None = None
    split: SplitGradients | None = None
    exact: bool = False


class TrainStep:
    """One training step of the module docstring, without data loading.

    Gramian steps split the backward at the shared representation (:class:`SplitGradients`): the
    method's Gramian comes from per-task gradients of the encoder (``gramian`` mode ``exact``), of
    its last layer (``last_layer``) or of the representation (``representation``; always for
    methods with ``gramian_source == "representation"``, i.e. MGDA-UB). When the objective is
    sum_i w_i L_i (:attr:`Weighting.linear_objective`) the update reuses those per-task gradients,
    so an exact Gramian step needs no extra backward pass; otherwise (UW as AutoScale's explorer)
    ``method.objective`` is back-propagated as usual. With ``every:s`` the Gramian is computed on
    steps t % s == 0 and the last one (:attr:`RunState.gramian_cache`) is passed to the method on
    the steps in between. AutoScale then records that stale Gramian with the step's fresh losses:
    each window mean is over about τ/s distinct Gramians, each repeated s times, so its weights
    estimate the same window average (this is what the cheap-Gramian study measures).

    The metrics Gramian of ``metrics_every`` is always the exact one (so that logged metrics mean
    the same across modes). The per-layer Gramians of the logged gradient conflict come from the same
    per-task gradients: those the method's exact Gramian was made of when it took one this step (no
    backward pass), else K backward passes through the encoder that give both (timed with the
    metrics, not the step).
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
        # The encoder's layers, for the per-layer gradient conflict logged with the metrics.
        self.layers = {
            name: [model.get_parameter(p) for p in params] for name, params in model.layer_parameter_names().items()
        }
        self.max_grad_norm = max_grad_norm
        self.task_names = [t.name for t in tasks]
        self.device = next(model.parameters()).device
        self.precision = precision
        self.log = StepLog(self.device)

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast of the forward pass and losses (``precision="bf16"``, CUDA only), else nothing."""
        return autocast_context(self.device, self.precision)

    def __call__(self, x: Tensor, targets: dict[str, Tensor], step: int, state: RunState) -> None:
        """One step; its losses, weights and time go to :attr:`log` (flushed by the caller)."""
        timer = self.log.timer()
        representation, task_losses = self.forward(x, targets)
        losses = torch.stack(task_losses)
        linear = self.method.linear_objective  # read before weights(): AutoScale may switch phase there
        logged = self.metrics_every > 0 and step % self.metrics_every == 0
        grads = self.task_gradients(task_losses, representation, step, state, keep=linear or logged)
        weights = self.weights(losses, grads.gramian)
        if logged:
            self.log_metrics(losses, weights, grads, step, state, timer)
        self.update(x, targets, losses, weights, grads.split if linear else None)
        self.log.add(losses, weights, timer)

    def forward(self, x: Tensor, targets: dict[str, Tensor]) -> tuple[Tensor, list[Tensor]]:
        """Stage 1: the shared representation and the K task losses (float32)."""
        with self.autocast():
            representation = self.model.encoder(x)
            outputs = self.model.decode(representation)
            task_losses = [t.loss(outputs[t.name], targets[t.name]).float() for t in self.tasks]
        return representation, task_losses

    def task_gradients(
        self, task_losses: list[Tensor], representation: Tensor, step: int, state: RunState, keep: bool
    ) -> TaskGradients:
        """Stage 2: the method's Gramian, computed this step or reused (``every:s``), or none; ``keep``
        keeps the exact Gramian's per-task gradients (for the update, or the per-layer metrics)."""
        if not self.method.needs_gramian:
            return TaskGradients()
        if step % self.mode.every != 0 and state.gramian_cache is not None:
            return TaskGradients(state.gramian_cache)
        heads = [list(self.model.heads[name].parameters()) for name in self.task_names]
        split = SplitGradients(task_losses, representation, heads)
        if self.method.gramian_source == "representation" or self.mode.source == "representation":
            gramian = split.representation_gramian()
        elif self.mode.source == "last_layer":
            gramian = split.parameter_gramian(last_layer_parameters(self.model.encoder))
        else:
            gramian = split.parameter_gramian(self.model.shared_parameters(), keep=keep)
        gramian = gramian.detach()
        if self.mode.every > 1:
            state.gramian_cache = gramian
        exact = self.method.gramian_source == "shared" and self.mode.source == "exact"
        return TaskGradients(gramian, split, exact)

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        """Stage 3: checked inputs, then the method's weights (K,).

        On a GPU a step without a Gramian is checked at the epoch's flush (StepLog): checking it
        here would make the host wait for the device every step."""
        if gramian is not None or not self.log.deferred:
            try:
                check_step_inputs(
                    len(self.tasks),
                    losses,
                    gramian,
                    needs_gramian=self.method.needs_gramian,
                    task_names=self.task_names,
                )
            except ValueError as err:
                raise InvalidStepInputs(str(err)) from err
        return self.method.weights(losses.detach(), gramian)

    def log_metrics(
        self, losses: Tensor, weights: Tensor, grads: TaskGradients, step: int, state: RunState, timer: StepTimer
    ) -> None:
        """Stage 4: the MTO metrics of this step from the exact Gramian, in float64 (the metrics are
        ratios of Gramian entries: GMS, condition number); their time is excluded from the step's."""
        sync(self.device)
        started = time.perf_counter()
        if grads.exact and grads.split is not None and grads.split.keeps_jacobian:
            exact, layers = grads.gramian, grads.split.group_gramians(self.layers)
        else:
            exact, layers = gramians(losses, self.model.shared_parameters(), self.layers)
        state.log_metrics(
            step,
            exact.detach().double(),
            losses.detach().double(),
            weights.detach().double(),
            {name: g.double() for name, g in layers.items()},
        )
        sync(self.device)
        timer.exclude(time.perf_counter() - started)

    def update(
        self, x: Tensor, targets: dict[str, Tensor], losses: Tensor, weights: Tensor, split: SplitGradients | None
    ) -> None:
        """Stage 5: gradient of the objective (from ``split``'s per-task gradients when given),
        clipping, the optimiser step, and the post-step losses for methods that need them."""
        self.optimizer.zero_grad(set_to_none=True)
        if split is not None:
            split.backward(weights)
        else:
            self.method.objective(losses, weights).backward()
        if self.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.model.shared_parameters(), self.max_grad_norm)
        self.optimizer.step()
        if self.method.needs_post_step_losses:
            with torch.no_grad(), self.autocast():
                self.method.post_step(stack_losses(self.tasks, self.model(x), targets).float())
