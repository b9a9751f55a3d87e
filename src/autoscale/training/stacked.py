"""Stacked training: M runs of one architecture trained in one process as one batched computation.

A small multi-task model leaves a GPU almost idle when trained alone (a step is hundreds of tiny
kernels). Here the M models' parameters are stacked along a new leading dimension
(``torch.func.stack_module_state``) and one forward pass, ``vmap(functional_call(model))``, runs all
of them, each on its own batch (M, B, ...). Runs stay independent because nothing mixes the
leading dimension:

- the losses L (M, K) are summed over runs before a backward pass, and run m's parameters receive
  gradient only from run m's terms; Adam and SGD are element-wise, so one optimiser over stacked
  tensors is M optimisers (gradient clipping is done per run, see :meth:`StackedTrainer._clip`);
- Gramian steps: K backward passes of ``L[:, k].sum()`` give every run's gradient of task k at
  once; run m's Gramian is J_m J_m^T with J_m (K, P) its rows. The weights of the whole stack are
  solved together where a method has a batched solver (:mod:`autoscale.methods.batched`: on the
  device, without waiting for it), else by each run's own method. The update is then one backward
  pass of ``sum_m objective_m(L_m, w_m)`` (the single-run trainer instead assembles the shared
  gradient from the per-task ones; same value up to float rounding, one backward pass more);
- every run keeps its own method object (its state, its AutoScale phase switch, its seed), its
  initialisation (each model is built exactly as :class:`autoscale.training.trainer.Trainer` builds it) and
  its data order (its own shuffle generator; batches are gathered from one preloaded copy).

Equivalence (tested on the CPU with M = 3 for every method family): a stacked run's per-step
losses and weights equal the same config trained alone to rtol 1e-4, its final metrics to 1e-3 --
float sums are ordered differently, nothing else differs. Methods that solve a linear system in
the Gramian (IMTL-G, also as AutoScale's explorer) amplify those roundings on the 3-task dense
models: there weights and losses agree to 2e-2 after 8 steps. Dropout > 0 is the exception: vmap
draws the masks of all runs from one stream (``randomness="different"``): then runs are
equivalent in distribution only. Stacking pays on CUDA; on a CPU one run per process is as fast
(0.7-1.4x measured for MultiLeNet), so sweeps stack only on CUDA (:func:`stack_groups`).

``compile_backend`` captures the step's forward and its backward passes as compiled graphs
(``torch.compile``); the eager path stays the default (CPU, debugging). The captured path equals the
eager one to float rounding (tested on the CPU with ``"aot_eager"``); whether it pays on a GPU is
measured by the GPU session's calibration (eager against ``"inductor"``).

Step times in a stacked record are the stack's step time divided by M (``record["stack"]`` says
so), i.e. each run's share of the device; the per-method step-time table comes from
:mod:`autoscale.bench`, which times single runs.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm import tqdm

from autoscale.methods.base import check_step_inputs
from autoscale.methods.batched import stacked_weights
from autoscale.training.config import InvalidStepInputs, RunConfig, TrainingDiverged
from autoscale.training.device import autocast_context, peak_memory, prepare_device, resolve_device
from autoscale.training.device_data import augments, epoch_batches, epoch_generator, epoch_order, preload
from autoscale.training.loop import EpochLoop
from autoscale.training.models import MultiTaskModel
from autoscale.training.state import RunState
from autoscale.training.step_log import StepLog
from autoscale.training.trainer import Trainer, build_optimizer, build_scheduler

# Config fields in which the runs of one stack may differ; everything else must be equal.
FREE_FIELDS = ("seed", "method", "method_options", "profile")


def stack_key(config: RunConfig) -> str:
    """Configs with the same key can be trained in one stack."""
    fixed = {k: v for k, v in config.to_dict().items() if k not in FREE_FIELDS}
    return json.dumps(fixed, sort_keys=True)


def stackable(config: RunConfig) -> bool:
    """Exact Gramians only (the cheap modes are a single-run study), no per-sample augmentation."""
    return config.gramian == "exact" and not config.data.get("augment", False)


def stack_groups(configs: Iterable[RunConfig], max_size: int) -> list[list[RunConfig]]:
    """``configs`` grouped into stacks of at most ``max_size`` compatible runs (order kept within a
    group); unstackable configs come back as groups of one."""
    groups: dict[str, list[RunConfig]] = {}
    singles: list[list[RunConfig]] = []
    for config in configs:
        if stackable(config) and max_size > 1:
            groups.setdefault(stack_key(config), []).append(config)
        else:
            singles.append([config])
    stacks = [g[i : i + max_size] for g in groups.values() for i in range(0, len(g), max_size)]
    return stacks + singles


class _Decoder(nn.Module):
    """The heads of a MultiTaskModel as a module whose forward is the model's ``decode`` (for functional_call)."""

    def __init__(self, heads: nn.ModuleDict) -> None:
        super().__init__()
        self.heads = heads

    forward = MultiTaskModel.decode


def _under(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _per_run_gramian(grads: list[list[Tensor]]) -> Tensor:
    """(M, K, K) Gramians from per-task lists of stacked gradients (each (M, ...))."""
    jac = torch.stack([torch.cat([g.flatten(1) for g in task], dim=1) for task in grads], dim=1)
    return jac @ jac.transpose(1, 2)


class StackedTrainer(EpochLoop):
    """Trains compatible configs (:func:`stack_key`) together, through the epoch loop a single run
    uses (:class:`autoscale.training.loop.EpochLoop`); :meth:`run` returns their records."""

    def __init__(
        self,
        configs: list[RunConfig],
        checkpoint_path: Path | None = None,
        progress: bool = True,
        compile_backend: str | None = None,
    ) -> None:
        if not configs:
            raise ValueError("a stack needs at least one config")
        keys = {stack_key(c) for c in configs}
        if len(keys) > 1 or not all(stackable(c) for c in configs):
            raise ValueError(
                "configs of one stack may differ only in " + ", ".join(FREE_FIELDS) + " and must use the exact "
                "Gramian without augmentation; group them with autoscale.training.stacked.stack_groups"
            )
        self.configs = configs
        self.checkpoint_path = checkpoint_path
        self.progress = progress
        first = configs[0]
        self.device = resolve_device(first.device)
        prepare_device(self.device)
        datasets = Trainer.build_datasets(first)
        self.runs = [Trainer(c, progress=False, datasets=datasets) for c in configs]
        lead = self.runs[0]
        self.tasks, self.task_names = lead.tasks, lead.task_names
        self.size = len(configs)
        self.steps_per_epoch, self.total_steps = lead.steps_per_epoch, lead.total_steps
        self.data = {
            split: preload(d, self.device) if not augments(d) else preload(d, "cpu") for split, d in datasets.items()
        }
        params, buffers = stack_module_state([r.model for r in self.runs])
        self.params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        self.buffers = buffers
        self.base = copy.deepcopy(lead.model).to("meta")
        self.decoder = _Decoder(self.base.heads)
        self.shared = [v for k, v in self.params.items() if k.startswith("encoder.")]
        shared_names = [k for k in self.params if k.startswith("encoder.")]
        self.layers = {
            name: [shared_names.index(p) for p in params] for name, params in lead.model.layer_parameter_names().items()
        }
        self.methods = [r.method for r in self.runs]
        method_params = [p for m in self.methods for p in m.parameters()]
        self.optimizer = build_optimizer(first, [*self.params.values(), *method_params])
        self.scheduler = build_scheduler(first, self.optimizer)
        clip = [r.train_step.max_grad_norm for r in self.runs]
        self.clip = (
            None
            if all(c is None for c in clip)
            else torch.tensor([float("inf") if c is None else c for c in clip], device=self.device)
        )
        self.log = StepLog(self.device)
        self.metrics_every = first.metrics_every
        self.precision = first.precision
        self._vmapped_losses: bool | None = None
        self.compile_backend = compile_backend
        if compile_backend is not None:
            # The captured step: the stacked forward and task losses as one graph (static shapes: every
            # batch of a stack has the same size but an epoch's last), whose backward passes -- the
            # Gramian's K and the update's one -- AOTAutograd compiles with it. "inductor" fuses the
            # many small kernels a stack of small models launches; "aot_eager" captures the same
            # graphs without code generation (the CPU tests' equality check of the captured path).
            self._forward = torch.compile(self._forward, backend=compile_backend, dynamic=False)  # type: ignore[method-assign]

    # -- the batched model --------------------------------------------------------------------

    def _encode(self, x: Tensor) -> Tensor:
        params, buffers = _under("encoder.", self.params), _under("encoder.", self.buffers)

        def one(p: dict, b: dict, xi: Tensor) -> Tensor:
            return functional_call(self.base.encoder, (p, b), (xi,))

        return vmap(one, randomness="different")(params, buffers, x)

    def _decode(self, representation: Tensor) -> dict[str, Tensor]:
        params = {k: v for k, v in self.params.items() if k.startswith("heads.")}
        buffers = {k: v for k, v in self.buffers.items() if k.startswith("heads.")}

        def one(p: dict, b: dict, r: Tensor) -> dict[str, Tensor]:
            return functional_call(self.decoder, (p, b), (r,))

        return vmap(one, randomness="different")(params, buffers, representation)

    def _losses(self, outputs: dict[str, Tensor], targets: dict[str, Tensor]) -> Tensor:
        """(M, K) losses: vmapped over runs where the task losses allow it, else a loop."""

        def one(out: dict[str, Tensor], tgt: dict[str, Tensor]) -> Tensor:
            return torch.stack([t.loss(out[t.name], tgt[t.name]).float() for t in self.tasks])

        if self._vmapped_losses is not False:
            try:
                losses = vmap(one)(outputs, targets)
                self._vmapped_losses = True
                return losses
            except RuntimeError:  # an op without a batching rule
                if self._vmapped_losses:
                    raise
                self._vmapped_losses = False
        return torch.stack(
            [
                one({k: v[m] for k, v in outputs.items()}, {k: v[m] for k, v in targets.items()})
                for m in range(self.size)
            ]
        )

    def _forward(self, x: Tensor, targets: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        with autocast_context(self.device, self.precision):
            representation = self._encode(x)
            losses = self._losses(self._decode(representation), targets)
        return representation, losses

    # -- one step -----------------------------------------------------------------------------

    def _task_gramians(
        self, losses: Tensor, representation: Tensor, needed: list[str], layers: bool = False
    ) -> dict[str, Tensor]:
        """Per-run Gramians (M, K, K) over the shared parameters and/or the representation; with
        ``layers`` (and "shared"), also each encoder layer's, keyed ``layer:<name>``, from the same
        gradients."""
        k = losses.shape[1]
        inputs = [*self.shared] if "shared" in needed else []
        if "representation" in needed:
            inputs.append(representation)
        grads = [torch.autograd.grad(losses[:, i].sum(), inputs, retain_graph=True) for i in range(k)]
        out = {}
        if "shared" in needed:
            out["shared"] = _per_run_gramian([list(g[: len(self.shared)]) for g in grads])
            for name, index in (self.layers if layers else {}).items():
                out[f"layer:{name}"] = _per_run_gramian([[g[i] for i in index] for g in grads])
        if "representation" in needed:
            out["representation"] = _per_run_gramian([[g[-1]] for g in grads])
        return out

    def _clip(self) -> None:
        """Per-run ``clip_grad_norm_`` of the shared parameters: run m's gradient is scaled by
        min(1, c_m / (||g_m|| + 1e-6)), as torch.nn.utils.clip_grad_norm_ does for one run."""
        grads = [p.grad for p in self.shared if p.grad is not None]
        norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()
        coef = (self.clip / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))

    def _step(self, x: Tensor, targets: dict[str, Tensor], step: int, states: list[RunState]) -> None:
        timer = self.log.timer()
        representation, losses = self._forward(x, targets)
        log_metrics = self.metrics_every > 0 and step % self.metrics_every == 0
        needed = {m.gramian_source for m in self.methods if m.needs_gramian}
        if log_metrics:
            needed.add("shared")
        gramians = self._task_gramians(losses, representation, sorted(needed), log_metrics) if needed else {}
        detached = losses.detach()
        gramian_of = [
            gramians[m.gramian_source][i].detach() if m.needs_gramian else None for i, m in enumerate(self.methods)
        ]
        if self._must_check(detached, gramians):
            for m, method in enumerate(self.methods):
                try:
                    check_step_inputs(
                        len(self.tasks),
                        detached[m],
                        gramian_of[m],
                        needs_gramian=method.needs_gramian,
                        task_names=self.task_names,
                    )
                except ValueError as err:
                    raise InvalidStepInputs(
                        f"run {m} ({self.configs[m].method}, seed {self.configs[m].seed}): {err}"
                    ) from err
        # Closed-form and fixed-budget solvers for the whole stack on the device, one transfer each
        # way for the host solvers, each run's own method for the rest (autoscale.methods.batched).
        weights = stacked_weights(self.methods, detached, gramian_of).to(losses.dtype)
        if log_metrics:
            t_metric = time.perf_counter()
            for m, state in enumerate(states):
                layers = {name: gramians[f"layer:{name}"][m].detach().double() for name in self.layers}
                state.log_metrics(
                    step, gramians["shared"][m].detach().double(), detached[m].double(), weights[m].double(), layers
                )
            timer.exclude(time.perf_counter() - t_metric)
        self.optimizer.zero_grad(set_to_none=True)
        if all(method.linear_objective for method in self.methods):
            # One product for the whole stack instead of a few small kernels per run: the same gradients.
            total = (weights * losses).sum()
        else:
            total = sum(method.objective(losses[m], weights[m]) for m, method in enumerate(self.methods))
        total.backward()
        if self.clip is not None:
            self._clip()
        self.optimizer.step()
        if any(m.needs_post_step_losses for m in self.methods):
            with torch.no_grad():
                _, after = self._forward(x, targets)
            for m, method in enumerate(self.methods):
                if method.needs_post_step_losses:
                    method.post_step(after[m])
        self.log.add(detached, weights.detach().float(), timer)

    def _must_check(self, losses: Tensor, gramians: dict[str, Tensor]) -> bool:
        """Whether to check every run's inputs now: always on the CPU; on a GPU only when a
        Gramian was computed and one reduction over the whole stack finds a non-finite value (one
        wait for the device per Gramian step instead of one per run; losses of the other steps
        are checked at the epoch's flush)."""
        if not self.log.deferred:
            return True
        if not gramians:
            return False
        finite = torch.stack([torch.isfinite(t).all() for t in (losses, *gramians.values())]).all()
        return not bool(finite)

    # -- evaluation ---------------------------------------------------------------------------

    @torch.no_grad()
    def _evaluate(self, split: str) -> list[dict]:
        self.base.eval()
        meters = [{t.name: t.meter() for t in self.tasks} for _ in range(self.size)]
        data = self.data[split]
        batch_size = self.configs[0].eval_batch_size
        for indices in epoch_batches(len(data), batch_size, None):
            x, targets = data.batch(indices)
            x = x.to(self.device)
            stacked = x.expand(self.size, *x.shape)
            with autocast_context(self.device, self.precision):
                outputs = self._decode(self._encode(stacked))
            for m in range(self.size):
                for t in self.tasks:
                    meters[m][t.name].update(outputs[t.name][m].float(), targets[t.name].to(self.device))
        self.base.train()
        return [{name: meter.compute() for name, meter in run.items()} for run in meters]

    # -- the shared loop's parts --------------------------------------------------------------

    def _train_epoch(self, epoch: int, states: list[RunState], bar: tqdm) -> None:
        first = self.configs[0]
        train = self.data["train"]
        # Every run's order of the epoch, copied to the device at once (not once a step).
        orders = torch.stack(
            [epoch_order(len(train), first.batch_size, epoch_generator(c.seed, epoch)) for c in self.configs]
        ).to(train.inputs.device)
        for start in range(0, len(train), first.batch_size):
            x, targets = train.batch(orders[:, start : start + first.batch_size])
            x, targets = x.to(self.device), {k: v.to(self.device) for k, v in targets.items()}
            try:
                self._step(x, targets, states[0].step, states)
            except InvalidStepInputs as err:
                raise TrainingDiverged(f"stacked training stopped at step {states[0].step}: {err}") from err
            for state in states:
                state.step += 1
            bar.update(1)

    def _model_state(self) -> dict:
        return {"params": {k: v.detach() for k, v in self.params.items()}, "buffers": self.buffers}

    def _load_model_state(self, checkpoint: dict) -> None:
        with torch.no_grad():
            for name, value in checkpoint["params"].items():
                self.params[name].copy_(value)
            for name, value in checkpoint["buffers"].items():
                self.buffers[name].copy_(value)

    def _description(self) -> str:
        return f"stack of {self.size} on {self.configs[0].benchmark}"

    # -- the runs -----------------------------------------------------------------------------

    def run(self, deadline: float | None = None) -> list[dict]:
        """Train every run of the stack (resuming from the checkpoint) and return their records.

        ``deadline`` (a ``time.time()`` value): stop after the first epoch that ends past it; the
        checkpoint lets a later call continue and the returned records are incomplete.
        """
        states = self._train(None if deadline is None else (lambda done: time.time() > deadline))
        records = []
        for run, state in zip(self.runs, states, strict=True):
            record = run.record(state)
            record["stack"] = {"size": self.size, "step_time_s": "the stack's step time divided by its size"}
            if self.compile_backend is not None:
                record["stack"]["compiled"] = self.compile_backend
            record.update(peak_memory(self.device))
            records.append(record)
        return records


def train_stack(
    configs: list[RunConfig], checkpoint_path: Path | None = None, progress: bool = True, **kwargs: Any
) -> list[dict]:
    """Train ``configs`` as one stack (see :class:`StackedTrainer`) and return their records."""
    return StackedTrainer(configs, checkpoint_path=checkpoint_path, progress=progress).run(**kwargs)


__all__ = ["StackedTrainer", "stack_groups", "stack_key", "stackable", "train_stack"]
