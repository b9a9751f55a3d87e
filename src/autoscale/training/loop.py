"""The epoch loop shared by one run (:class:`autoscale.training.trainer.Trainer`) and a stack of runs
(:class:`autoscale.training.stacked.StackedTrainer`): one training core, two ways of taking a step.

Per epoch, for M runs (M = 1 for a single run):

1. the epoch's seed (:func:`autoscale.training.device.seed_epoch`), then the subclass's steps;
2. the step log is flushed into each run's :class:`RunState` (a non-finite loss stops the run, named);
3. each method's ``epoch_end`` with its run's mean training losses, then the schedule's step;
4. the validation split is evaluated (the test split after the last epoch only), each run's epoch
   entry is appended, and the checkpoint is written atomically.

The checkpoint holds the configs, the runs' states, the optimiser, schedule, methods and random
state, and what the subclass adds (the model's weights), so that a resumed training gives the same
records as an uninterrupted one (on the CPU). A subclass provides :meth:`EpochLoop._train_epoch`,
:meth:`EpochLoop._evaluate` and the model's part of the checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from autoscale.methods import Weighting
from autoscale.training.config import CorruptCheckpoint, RunConfig, TrainingDiverged
from autoscale.training.device import restore_rng, seed_epoch
from autoscale.training.files import load_checkpoint, save_checkpoint
from autoscale.training.state import RunState
from autoscale.training.step_log import StepLog


class EpochLoop:
    """Trains ``configs`` (equal but for their seeds and methods) epoch by epoch; see the module docstring.

    Subclasses set ``configs``, ``methods`` (one per run), ``optimizer``, ``scheduler``, ``log`` (the
    :class:`StepLog` their steps write to), ``task_names``, ``total_steps``, ``device``,
    ``checkpoint_path`` and ``progress``.
    """

    configs: list[RunConfig]
    methods: list[Weighting]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    log: StepLog
    task_names: list[str]
    total_steps: int
    device: torch.device
    checkpoint_path: Path | None
    progress: bool

    # -- what a subclass provides -------------------------------------------------------------

    def _train_epoch(self, epoch: int, states: list[RunState], bar: tqdm) -> None:
        """Every step of ``epoch`` for every run (each step advances every state's ``step``)."""
        raise NotImplementedError

    def _evaluate(self, split: str) -> list[dict]:
        """Per run, the metrics of the whole ``split``: {task: {metric: value}}."""
        raise NotImplementedError

    def _model_state(self) -> dict[str, Any]:
        """The models' part of the checkpoint."""
        raise NotImplementedError

    def _load_model_state(self, checkpoint: dict[str, Any]) -> None:
        """Restore what :meth:`_model_state` saved."""
        raise NotImplementedError

    def _description(self) -> str:
        """The progress bar's label."""
        raise NotImplementedError

    # -- the loop -----------------------------------------------------------------------------

    def _train(self, stop: Callable[[int], bool] | None = None) -> list[RunState]:
        """Train (resuming from the checkpoint) until every epoch is done, or until ``stop`` (given
        the epochs done by this call) says so after an epoch; returns the runs' states."""
        states = self._load_checkpoint() or [RunState() for _ in self.configs]
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        bar = tqdm(
            total=self.total_steps,
            initial=states[0].step,
            disable=not self.progress,
            desc=self._description(),
            leave=False,
        )
        first, epochs = self.configs[0], self.configs[0].epochs
        done = 0
        while states[0].epoch < epochs:
            epoch = states[0].epoch
            seed_epoch(first.seed, epoch)
            started = time.perf_counter()
            offset = len(states[0].step_loss)
            self._train_epoch(epoch, states, bar)
            self._flush(states)
            mean_losses = [state.mean_loss_since(offset) for state in states]
            for method, mean in zip(self.methods, mean_losses, strict=True):
                method.epoch_end(torch.as_tensor(mean, dtype=torch.float32))
            if self.scheduler:
                self.scheduler.step()
            # Each run's share of the epoch's training time (evaluation excluded).
            elapsed = (time.perf_counter() - started) / len(states)
            val = self._evaluate("val")
            test = self._evaluate("test") if epoch + 1 == epochs else None
            for m, state in enumerate(states):
                state.train_seconds += elapsed
                entry = {
                    "epoch": epoch + 1,
                    "step": state.step,
                    "train_loss": dict(zip(self.task_names, mean_losses[m].tolist(), strict=True)),
                    "val": val[m],
                }
                if test is not None:
                    entry["test"] = test[m]
                state.epochs.append(entry)
                state.epoch += 1
            self._save_checkpoint(states)
            done += 1
            if stop is not None and stop(done):
                break
        bar.close()
        return states

    def _flush(self, states: list[RunState]) -> None:
        """Move the epoch's buffered steps into the runs' states (each run's step time is its share
        of the step); stop at the first non-finite loss, naming run, step and task."""
        first_step = len(states[0].step_loss)
        flushed = self.log.flush()
        steps, size = len(flushed.times), len(states)
        if not steps:
            return
        losses = flushed.losses.reshape(steps, size, -1)
        weights = flushed.weights.reshape(steps, size, -1)
        share = flushed.times / size
        for m, state in enumerate(states):
            state.add_steps(losses[:, m], weights[:, m], share)
        if flushed.first_nonfinite is not None:
            offset, *run, task = flushed.first_nonfinite
            m = run[0] if run else 0
            err = ValueError(f"non-finite loss for {self.task_names[task]} (loss = {losses[offset, m, task]})")
            raise TrainingDiverged(self._diverged_message(first_step + offset, err, m))

    def _diverged_message(self, step: int, err: Exception, run: int = 0) -> str:
        config = self.configs[run]
        where = f"{config.method} (seed {config.seed}) on {config.benchmark}"
        kept = f"the last checkpoint is kept at {self.checkpoint_path}" if self.checkpoint_path else "no checkpoint"
        return f"training stopped at step {step} of {where}: {err}; {kept}"

    # -- checkpoints --------------------------------------------------------------------------

    def _save_checkpoint(self, states: list[RunState]) -> None:
        if self.checkpoint_path is None:
            return
        save_checkpoint(
            self.checkpoint_path,
            {
                "configs": [c.to_dict() for c in self.configs],
                **self._model_state(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "methods": [m.state_dict() for m in self.methods],
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "states": [state.to_checkpoint() for state in states],
            },
        )

    def _load_checkpoint(self) -> list[RunState] | None:
        path = self.checkpoint_path
        if path is None or not path.is_file():
            return None
        ckpt = load_checkpoint(path, self.device)
        if not isinstance(ckpt, dict) or ckpt.get("configs") != [c.to_dict() for c in self.configs]:
            raise CorruptCheckpoint(path, "it belongs to a different config or stack of configs")
        try:
            self._load_model_state(ckpt)
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler:
                self.scheduler.load_state_dict(ckpt["scheduler"])
            for method, state in zip(self.methods, ckpt["methods"], strict=True):
                method.load_state_dict(state)
        except (KeyError, RuntimeError, ValueError) as err:
            raise CorruptCheckpoint(path, f"{type(err).__name__}: {err}") from err
        restore_rng(ckpt["torch_rng"], ckpt["cuda_rng"])
        return [RunState.from_checkpoint(saved) for saved in ckpt["states"]]
