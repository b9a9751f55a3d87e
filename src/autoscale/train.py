"""The trainer: one run from a :class:`RunConfig` to a JSON-serialisable run record.

One training step (DESIGN.md §4, "Gramian-first training step"):

1. forward the shared encoder, then every task head; stack the K task losses;
2. if the method needs it, the K x K Gramian of the task gradients (w.r.t. the shared parameters,
   or the shared representation for MGDA-UB; ``RunConfig.gramian`` selects a cheaper one, see
   :class:`TrainStep`);
3. the method's weights w; the gradient of ``method.objective(losses, w)`` (= Σ w_i L_i): on Gramian
   steps assembled from the per-task gradients the Gramian was made of (no extra backward pass
   for an exact Gramian), else one backward pass;
4. the optimiser step (after optional gradient clipping), then ``method.post_step`` (FAMO).

Every ``metrics_every`` steps the trainer also computes the Gramian (if the method did not) and
logs the MTO metrics of :func:`autoscale.metrics.summarize_step`, for fixed-weight runs too. That
extra work is timed separately, so ``step_time_s`` is the cost of the method alone.

Validation metrics are logged every epoch (learning curves); the test split is evaluated once,
after the last epoch, so nothing during training can look at it (and it costs one pass).

Runs resume from a checkpoint written atomically at the end of every epoch; data order, dropout
and method randomness are seeded per epoch, so a resumed run gives the same record as an
uninterrupted one (on CPU; cuDNN kernels on GPU are not bitwise deterministic).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import platform
import random
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

import autoscale
from autoscale.autoscale import AutoScale
from autoscale.datasets import build_dataset
from autoscale.device_data import PreloadedSplit, augments, epoch_generator, preload
from autoscale.files import atomic_torch_save
from autoscale.gramian import SplitGradients, compute_gramian, last_layer_parameters, parse_gramian_mode
from autoscale.methods import Weighting, build_method, method_class
from autoscale.methods.base import check_step_inputs
from autoscale.metrics import summarize_step
from autoscale.models import MultiTaskModel, build_model
from autoscale.step_log import StepLog
from autoscale.tasks import Task, build_tasks, stack_losses

OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = ("none", "step", "cosine")
SPLITS = ("train", "val", "test")
PRECISIONS = ("fp32", "bf16")
# RunConfig fields added after the first committed records, with their defaults (RunConfig.to_dict).
LATER_FIELDS: dict[str, Any] = {"precision": "fp32"}


@dataclass
class RunConfig:
    """Everything that determines a run. ``device`` and ``profile`` are labels, not part of the
    run's identity (see :func:`autoscale.experiments.config_hash`)."""

    benchmark: str = "multimnist"
    method: str = "unitary"
    method_options: dict[str, Any] = field(default_factory=dict)
    tasks: list[str] | None = None
    seed: int = 0
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: str = "none"
    scheduler_options: dict[str, Any] = field(default_factory=dict)
    max_grad_norm: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    metrics_every: int = 0
    gramian: str = "exact"
    eval_batch_size: int = 512
    # "bf16": forward pass and losses under bfloat16 autocast on CUDA (gradients, Gramians and the
    # optimiser stay float32). Part of a run's identity only when not "fp32" (config_hash).
    precision: str = "fp32"
    device: str = "cpu"
    profile: str = "custom"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; valid: {', '.join(PRECISIONS)}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; valid: {', '.join(SCHEDULERS)}")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.metrics_every < 0:
            raise ValueError(f"metrics_every must be >= 0 (0 = never), got {self.metrics_every}")
        parse_gramian_mode(self.gramian)  # lists the valid modes
        method_class(self.method)  # unknown names fail here, listing the valid ones

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict; fields added after records were committed are left out while at
        their default, so that older records keep their config (and hence their config hash)."""
        d = dataclasses.asdict(self)
        for name, default in LATER_FIELDS.items():
            if d[name] == default:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; valid keys: {sorted(known)}")
        return cls(**d)


class TrainingDiverged(RuntimeError):
    """A task loss or gradient became non-finite; the last checkpoint is kept."""


class CorruptCheckpoint(RuntimeError):
    """A checkpoint cannot be resumed from (unreadable, truncated, or of another config)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"checkpoint {path} cannot be resumed from: {reason}")
        self.path, self.reason = path, reason


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def git_commit() -> str:
    """The checkout's commit (with ``-dirty`` if the package's files have local changes), or ``unknown``."""
    if os.environ.get("AUTOSCALE_GIT_COMMIT"):  # a copy of the tree without .git (a GPU machine)
        return os.environ["AUTOSCALE_GIT_COMMIT"]
    here = Path(__file__).resolve().parent
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


def _build_method(config: RunConfig, num_tasks: int, total_steps: int) -> Weighting:
    options = dict(config.method_options)
    accepted = inspect.signature(method_class(config.method).__init__).parameters
    # Methods that need the run's length (AutoScale) or a seed (RLW, PCGrad) get them from the
    # run unless the config sets them explicitly.
    if "total_steps" in accepted:
        options.setdefault("total_steps", total_steps)
    if "seed" in accepted:
        options.setdefault("seed", config.seed)
    return build_method(config.method, num_tasks=num_tasks, **options)


def _optimizer(config: RunConfig, params: list[Tensor]) -> torch.optim.Optimizer:
    """Adam or SGD; on CUDA Adam is the fused kernel (one launch for all parameters; the same
    update up to float rounding), on the CPU the reference implementation the records were made with."""
    if config.optimizer == "adam":
        fused = bool(params) and all(p.is_cuda for p in params)
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused or None)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def _scheduler(config: RunConfig, opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Epoch-level schedule: ``step`` (step_size, gamma) or ``cosine`` (to 0 over the run)."""
    opts = dict(config.scheduler_options)
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=opts.get("step_size", 10), gamma=opts.get("gamma", 0.5))
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    return None


def _to_device(batch: tuple[Tensor, dict[str, Tensor]], device: torch.device) -> tuple[Tensor, dict[str, Tensor]]:
    x, targets = batch
    return x.to(device, non_blocking=True), {k: v.to(device, non_blocking=True) for k, v in targets.items()}


def _sync(device: torch.device) -> None:
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


@torch.no_grad()
def evaluate_split(
    model: MultiTaskModel, tasks: list[Task], loader: DataLoader | Iterable, device: torch.device
) -> dict:
    """Per-task metrics accumulated over a whole split: {task: {metric: value}}."""
    model.eval()
    meters = {t.name: t.meter() for t in tasks}
    for batch in loader:
        x, targets = _to_device(batch, device)
        outputs = model(x)
        for t in tasks:
            meters[t.name].update(outputs[t.name], targets[t.name])
    model.train()
    return {name: meter.compute() for name, meter in meters.items()}


class InvalidStepInputs(ValueError):
    """A step's losses or Gramian are non-finite or malformed (raised before the optimiser step)."""


def linear_objective(method: Weighting) -> bool:
    """Whether the objective of a step on which ``method`` takes a Gramian is ``sum_i w_i L_i``
    (the base :meth:`Weighting.objective`).

    AutoScale takes Gramians in phase 1 only, where its weights and objective are the exploration
    method's (class docstring of :class:`autoscale.autoscale.AutoScale`), so that method decides.
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
            _sync(self.device)
            t_metric = time.perf_counter()
            exact = gramian if fresh_exact else compute_gramian(losses, model.shared_parameters(), retain_graph=True)
            # float64: the metrics are ratios of Gramian entries (GMS, condition number)
            log_step_metrics(state, step, exact.detach().double(), losses.detach().double(), weights.detach().double())
            _sync(self.device)
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


class Trainer:
    """Builds data, model, tasks and method from a config and trains it (see module docstring)."""

    def __init__(
        self,
        config: RunConfig,
        checkpoint_path: Path | None = None,
        progress: bool = True,
        datasets: dict[str, Dataset] | None = None,
    ) -> None:
        """``datasets``: the splits, when the caller built them (a stack of runs shares one copy;
        the caller then also keeps the device copies, so none are made here)."""
        self.config = config
        self.checkpoint_path = checkpoint_path
        self.progress = progress
        self.device = resolve_device(config.device)
        prepare_device(self.device)
        self.tasks = build_tasks(config.benchmark, config.tasks)
        self.task_names = [t.name for t in self.tasks]
        self.datasets = datasets or self.build_datasets(config)
        # On a GPU, splits live on the device (same batches as the DataLoader; autoscale.device_data).
        self.preloaded: dict[str, PreloadedSplit] = {}
        if self.device.type == "cuda" and datasets is None:
            self.preloaded = {s: preload(d, self.device) for s, d in self.datasets.items() if not augments(d)}
        seed_everything(config.seed)
        self.model = build_model(config.benchmark, self.task_names, **config.model).to(self.device)
        self.steps_per_epoch = -(-len(self.datasets["train"]) // config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.method = _build_method(config, len(self.tasks), self.total_steps)
        for p in self.method.parameters():
            p.data = p.data.to(self.device)
        self.optimizer = _optimizer(config, [*self.model.parameters(), *self.method.parameters()])
        self.scheduler = _scheduler(config, self.optimizer)
        max_grad_norm = (
            config.max_grad_norm if config.max_grad_norm is not None else getattr(self.method, "max_norm", None)
        )
        self.train_step = TrainStep(
            self.model,
            self.tasks,
            self.method,
            self.optimizer,
            gramian=config.gramian,
            metrics_every=config.metrics_every,
            max_grad_norm=max_grad_norm,
            precision=config.precision,
        )

    @staticmethod
    def build_datasets(config: RunConfig) -> dict[str, Dataset]:
        """The train, val and test splits of ``config`` (``data.sizes`` caps each split)."""
        datasets = {}
        for split in SPLITS:
            options = dict(config.data)
            sizes = options.pop("sizes", {})
            if sizes.get(split) is not None:
                options["size"] = sizes[split]
            datasets[split] = build_dataset(config.benchmark, split, **options)
        return datasets

    @staticmethod
    def initial_state() -> dict:
        """The state of a run before its first step (what checkpoints hold and records are made of)."""
        return {
            "epoch": 0,
            "step": 0,
            "epochs": [],
            "step_loss": [],
            "step_weights": [],
            "step_time_s": [],
            "metrics": {},
            "initial_loss": None,
            "train_seconds": 0.0,
        }

    def _loader(self, split: str, epoch: int = 0) -> Iterable:
        if split in self.preloaded:
            if split == "train":
                return self.preloaded[split].batches(self.config.batch_size, epoch_generator(self.config.seed, epoch))
            return self.preloaded[split].batches(self.config.eval_batch_size)
        if split == "train":
            generator = epoch_generator(self.config.seed, epoch)
            return DataLoader(
                self.datasets[split],
                batch_size=self.config.batch_size,
                shuffle=True,
                generator=generator,
                drop_last=False,
            )
        return DataLoader(self.datasets[split], batch_size=self.config.eval_batch_size, shuffle=False)

    # -- one step -------------------------------------------------------------------------------

    def _step(self, batch, step: int, state: dict) -> None:
        x, targets = _to_device(batch, self.device)
        try:
            self.train_step(x, targets, step, state)
        except InvalidStepInputs as err:
            raise TrainingDiverged(self._diverged_message(step, err)) from err

    def _flush_steps(self, state: dict) -> None:
        """Move the epoch's buffered steps into the run state; stop if a loss was not finite."""
        first_step = len(state["step_loss"])
        flushed = self.train_step.log.flush()
        state["step_loss"].extend(flushed.losses.tolist())
        state["step_weights"].extend(flushed.weights.tolist())
        state["step_time_s"].extend(flushed.times.tolist())
        if flushed.first_nonfinite is not None:
            offset, task = flushed.first_nonfinite
            step = first_step + offset
            err = ValueError(f"non-finite loss for {self.task_names[task]} (loss = {flushed.losses[offset, task]})")
            raise TrainingDiverged(self._diverged_message(step, err))

    def _diverged_message(self, step: int, err: Exception) -> str:
        kept = f"the last checkpoint is kept at {self.checkpoint_path}" if self.checkpoint_path else "no checkpoint"
        return f"training stopped at step {step} of {self.config.method} on {self.config.benchmark}: {err}; {kept}"

    # -- checkpoints ----------------------------------------------------------------------------

    def _save_checkpoint(self, state: dict) -> None:
        if self.checkpoint_path is None:
            return
        atomic_torch_save(
            self.checkpoint_path,
            {
                "config": self.config.to_dict(),
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "method": self.method.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "state": state,
            },
        )

    def _load_checkpoint(self) -> dict | None:
        if self.checkpoint_path is None or not self.checkpoint_path.is_file():
            return None
        try:
            ckpt = torch.load(self.checkpoint_path, map_location=self.device, weights_only=False)
        except Exception as err:  # torch raises many types for truncated or foreign files
            raise CorruptCheckpoint(self.checkpoint_path, f"{type(err).__name__}: {err}") from err
        if not isinstance(ckpt, dict) or ckpt.get("config") != self.config.to_dict():
            raise CorruptCheckpoint(self.checkpoint_path, "it belongs to a different config")
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler:
                self.scheduler.load_state_dict(ckpt["scheduler"])
            self.method.load_state_dict(ckpt["method"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise CorruptCheckpoint(self.checkpoint_path, f"{type(err).__name__}: {err}") from err
        restore_rng(ckpt["torch_rng"], ckpt["cuda_rng"])
        return ckpt["state"]

    # -- the run --------------------------------------------------------------------------------

    def run(self, stop_after_epochs: int | None = None, on_epoch: Callable[[dict], None] | None = None) -> dict:
        """Train (resuming from the checkpoint if one exists) and return the run record.

        ``stop_after_epochs`` ends the call early after that many epochs of this call (the
        checkpoint lets a later call continue); the returned record is then incomplete.
        """
        state = self._load_checkpoint() or self.initial_state()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        bar = tqdm(
            total=self.total_steps,
            initial=state["step"],
            disable=not self.progress,
            desc=f"{self.config.method} on {self.config.benchmark}",
            leave=False,
        )
        epochs_this_call = 0
        while state["epoch"] < self.config.epochs:
            epoch = state["epoch"]
            torch.manual_seed(self.config.seed * 7919 + epoch)
            started = time.perf_counter()
            first = len(state["step_loss"])
            for batch in self._loader("train", epoch):
                self._step(batch, state["step"], state)
                state["step"] += 1
                bar.update(1)
            self._flush_steps(state)
            mean_loss = np.mean(state["step_loss"][first:], axis=0)
            self.method.epoch_end(torch.as_tensor(mean_loss, dtype=torch.float32))
            if self.scheduler:
                self.scheduler.step()
            state["train_seconds"] += time.perf_counter() - started
            entry = {
                "epoch": epoch + 1,
                "step": state["step"],
                "train_loss": dict(zip(self.task_names, mean_loss.tolist(), strict=True)),
                "val": evaluate_split(self.model, self.tasks, self._loader("val"), self.device),
            }
            if epoch + 1 == self.config.epochs:
                entry["test"] = evaluate_split(self.model, self.tasks, self._loader("test"), self.device)
            state["epochs"].append(entry)
            state["epoch"] += 1
            self._save_checkpoint(state)
            if on_epoch:
                on_epoch(state["epochs"][-1])
            epochs_this_call += 1
            if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs:
                break
        bar.close()
        return self._record(state)

    def _record(self, state: dict) -> dict:
        times = np.asarray(state["step_time_s"])
        steady = times[min(len(times) // 10, 20) :] if len(times) else times
        return {
            "config": self.config.to_dict(),
            "version": autoscale.__version__,
            "git_commit": git_commit(),
            "device": describe_device(self.device),
            "torch_version": torch.__version__,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "complete": state["epoch"] >= self.config.epochs,
            "tasks": {t.name: {"primary": t.primary, "higher_is_better": t.higher_is_better} for t in self.tasks},
            "num_train_samples": len(self.datasets["train"]),
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
            "train_seconds": state["train_seconds"],
            "median_step_time_s": float(np.median(steady)) if len(steady) else None,
            "epochs": state["epochs"],
            "final": state["epochs"][-1] if state["epochs"] else None,
            "steps": {"loss": state["step_loss"], "weights": state["step_weights"], "time_s": state["step_time_s"]},
            "metrics": state["metrics"],
            "method": self.method.record(),
            **peak_memory(self.device),
        }


def train(config: RunConfig, checkpoint_path: Path | None = None, progress: bool = True) -> dict:
    """Train one run and return its record (resuming from ``checkpoint_path`` if it exists)."""
    return Trainer(config, checkpoint_path=checkpoint_path, progress=progress).run()
