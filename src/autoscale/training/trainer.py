"""The trainer: one run from a :class:`~autoscale.training.config.RunConfig` to a JSON-serialisable run record.

Each step is a :class:`~autoscale.training.step.TrainStep` (forward, task gradients, weights,
metrics every ``metrics_every`` steps for every method, fixed weights included, update, log).

Validation metrics are logged every epoch (learning curves); the test split is evaluated once,
after the last epoch, so nothing during training can look at it (and it costs one pass).

Runs resume from a checkpoint written atomically at the end of every epoch; data order, dropout
and method randomness are seeded per epoch, so a resumed run gives the same record as an
uninterrupted one (on CPU; cuDNN kernels on GPU are not bitwise deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

import autoscale
from autoscale.methods import Weighting, build_method
from autoscale.methods.base import RunContext
from autoscale.training.config import SPLITS, InvalidStepInputs, RunConfig, TrainingDiverged
from autoscale.training.datasets import build_dataset
from autoscale.training.device import (
    describe_device,
    git_commit,
    peak_memory,
    prepare_device,
    resolve_device,
    seed_everything,
    to_device,
)
from autoscale.training.device_data import PreloadedSplit, augments, epoch_generator, preload
from autoscale.training.loop import EpochLoop
from autoscale.training.models import MultiTaskModel, build_model
from autoscale.training.state import RunState
from autoscale.training.step import TrainStep
from autoscale.training.tasks import Task, build_tasks


def build_run_method(config: RunConfig, num_tasks: int, total_steps: int) -> Weighting:
    """The config's weighting method, with the run's length and seed for the methods that take them."""
    run = RunContext(total_steps=total_steps, seed=config.seed)
    return build_method(config.method, num_tasks, run=run, **config.method_options)


def build_optimizer(config: RunConfig, params: list[Tensor]) -> torch.optim.Optimizer:
    """Adam or SGD; on CUDA Adam is the fused kernel (one launch for all parameters; the same
    update up to float rounding), on the CPU the reference implementation the records were made with."""
    if config.optimizer == "adam":
        fused = bool(params) and all(p.is_cuda for p in params)
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused or None)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def build_scheduler(config: RunConfig, opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Epoch-level schedule: ``step`` (step_size, gamma) or ``cosine`` (to 0 over the run)."""
    opts = dict(config.scheduler_options)
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=opts.get("step_size", 10), gamma=opts.get("gamma", 0.5))
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    return None


@torch.no_grad()
def evaluate_split(
    model: MultiTaskModel, tasks: list[Task], loader: DataLoader | Iterable, device: torch.device
) -> dict:
    """Per-task metrics accumulated over a whole split: {task: {metric: value}}."""
    model.eval()
    meters = {t.name: t.meter() for t in tasks}
    for batch in loader:
        x, targets = to_device(batch, device)
        outputs = model(x)
        for t in tasks:
            meters[t.name].update(outputs[t.name], targets[t.name])
    model.train()
    return {name: meter.compute() for name, meter in meters.items()}


class Trainer(EpochLoop):
    """Builds data, model, tasks and method from a config and trains it: the shared epoch loop
    (:class:`autoscale.training.loop.EpochLoop`) with one :class:`TrainStep` per batch."""

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
        self.configs = [config]
        self.checkpoint_path = checkpoint_path
        self.progress = progress
        self.device = resolve_device(config.device)
        prepare_device(self.device)
        self.tasks = build_tasks(config.benchmark, config.tasks)
        self.task_names = [t.name for t in self.tasks]
        self.datasets = datasets or self.build_datasets(config)
        # On a GPU, splits live on the device (same batches as the DataLoader; autoscale.training.device_data).
        self.preloaded: dict[str, PreloadedSplit] = {}
        if self.device.type == "cuda" and datasets is None:
            self.preloaded = {s: preload(d, self.device) for s, d in self.datasets.items() if not augments(d)}
        seed_everything(config.seed)
        self.model = build_model(config.benchmark, self.task_names, **config.model).to(self.device)
        self.steps_per_epoch = -(-len(self.datasets["train"]) // config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.method = build_run_method(config, len(self.tasks), self.total_steps).to(self.device)
        self.methods = [self.method]
        self.optimizer = build_optimizer(config, [*self.model.parameters(), *self.method.parameters()])
        self.scheduler = build_scheduler(config, self.optimizer)
        max_grad_norm = config.max_grad_norm if config.max_grad_norm is not None else self.method.max_grad_norm
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
        self.log = self.train_step.log

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

    def _step(self, batch, step: int, state: RunState) -> None:
        x, targets = to_device(batch, self.device)
        try:
            self.train_step(x, targets, step, state)
        except InvalidStepInputs as err:
            raise TrainingDiverged(self._diverged_message(step, err)) from err

    # -- the shared loop's parts ----------------------------------------------------------------

    def _train_epoch(self, epoch: int, states: list[RunState], bar: tqdm) -> None:
        (state,) = states
        for batch in self._loader("train", epoch):
            self._step(batch, state.step, state)
            state.step += 1
            bar.update(1)

    def _evaluate(self, split: str) -> list[dict]:
        return [evaluate_split(self.model, self.tasks, self._loader(split), self.device)]

    def _model_state(self) -> dict:
        return {"model": self.model.state_dict()}

    def _load_model_state(self, checkpoint: dict) -> None:
        self.model.load_state_dict(checkpoint["model"])

    def _description(self) -> str:
        return f"{self.config.method} on {self.config.benchmark}"

    # -- the run --------------------------------------------------------------------------------

    def run(self, stop_after_epochs: int | None = None) -> dict:
        """Train (resuming from the checkpoint if one exists) and return the run record.

        ``stop_after_epochs`` ends the call early after that many epochs of this call (the
        checkpoint lets a later call continue); the returned record is then incomplete.
        """
        stop = None if stop_after_epochs is None else (lambda done: done >= stop_after_epochs)
        (state,) = self._train(stop)
        return self.record(state)

    def record(self, state: RunState) -> dict:
        """The run record of ``state`` (complete once every epoch is done)."""
        times = np.asarray(state.step_time_s)
        steady = times[min(len(times) // 10, 20) :] if len(times) else times
        return {
            "config": self.config.to_dict(),
            "version": autoscale.__version__,
            "git_commit": git_commit(),
            "device": describe_device(self.device),
            "torch_version": torch.__version__,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "complete": state.epoch >= self.config.epochs,
            "tasks": {t.name: {"primary": t.primary, "higher_is_better": t.higher_is_better} for t in self.tasks},
            "num_train_samples": len(self.datasets["train"]),
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
            "train_seconds": state.train_seconds,
            "median_step_time_s": float(np.median(steady)) if len(steady) else None,
            "epochs": state.epochs,
            "final": state.epochs[-1] if state.epochs else None,
            "steps": {"loss": state.step_loss, "weights": state.step_weights, "time_s": state.step_time_s},
            "metrics": state.metrics,
            "method": self.method.record(),
            **peak_memory(self.device),
        }


def train(config: RunConfig, checkpoint_path: Path | None = None, progress: bool = True) -> dict:
    """Train one run and return its record (resuming from ``checkpoint_path`` if it exists)."""
    return Trainer(config, checkpoint_path=checkpoint_path, progress=progress).run()
