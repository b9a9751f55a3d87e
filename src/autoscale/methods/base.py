"""The interface every weighting method implements.

Every method of this package is a *weighting*: at each step it maps the K task losses, and where
it needs them the task-gradient Gramian G_ij = g_i · g_j over the shared parameters, to task
weights w (K,). One backward pass of ``objective(losses, w)`` (``sum_i w_i L_i`` for all but
uncertainty weighting) then gives the update. Methods that manipulate gradients (PCGrad, IMTL-G,
MGDA, CAGrad, Aligned-MTL, Nash-MTL) return a combination of task gradients, so they too are
weightings of the losses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

GramianSource = Literal["shared", "representation"]
RunOption = Literal["total_steps", "seed"]
# What a method's weights depend on: nothing that changes during training ("fixed"), the losses or
# random draws only, one backward pass a step ("loss"), or the per-task gradients through the
# Gramian ("gramian"). AutoScale is "gramian": its exploration phase is.
Family = Literal["fixed", "loss", "gramian"]
# How permutation equivariance applies: a deterministic function of the current inputs, a
# deterministic function of the input sequence (state), or random draws.
Equivariance = Literal["function", "trajectory", "random"]


@dataclass(frozen=True)
class MethodInfo:
    """What the book, the plans, the CLI and the benchmarks know of a method: declared once, on
    its class (:attr:`Weighting.info`), and read everywhere else.

    - ``label``: the method's name as papers print it (table rows, legends).
    - ``family``: :data:`Family`.
    - ``in_paper``: a row of the AutoScale paper's Tables 1 and 2; other table rows are extra rows,
      marked and left out of every comparison with the paper's numbers.
    - ``table_row``: where the method sits among the rows of our main tables (ascending), or None
      if it is not a row of its own (fixed ``linear`` weights are the LS sweep).
    """

    label: str
    family: Family
    in_paper: bool = False
    table_row: int | None = None


def no_options(num_tasks: int) -> dict[str, Any]:
    """The minimal options of a method that needs none."""
    return {}


def same_options(options: dict[str, Any], permutation: Any) -> dict[str, Any]:
    """Options that do not depend on the order of the tasks."""
    return options


@dataclass(frozen=True)
class PropertySpec:
    """How the registry-wide property tests (permutation equivariance, finite weights, state
    round-trip) apply to a method; its scale law or closed form is tested in its own tests.

    - ``options``: the minimal options it needs for K tasks (building it without them must fail).
    - ``equivariance``: :data:`Equivariance`; ``reason`` says, for "trajectory" and "random", what
      the state or the randomness is and what is checked instead.
    - ``tol``: relative tolerance of equivariance (an iterative solver's accuracy).
    - ``state_options``: options used where state matters (trajectories, state round-trip).
    - ``permute_options``: the options for the tasks permuted (fixed per-task weights).
    """

    options: Callable[[int], dict[str, Any]] = no_options
    equivariance: Equivariance = "function"
    reason: str = ""
    tol: float = 1e-9
    state_options: dict[str, Any] = field(default_factory=dict)
    permute_options: Callable[[dict[str, Any], Any], dict[str, Any]] = same_options


@dataclass(frozen=True)
class RunContext:
    """What a training run knows that some methods need when they are built: its length in steps
    and its seed (see :attr:`Weighting.run_options`)."""

    total_steps: int
    seed: int


class Weighting:
    """Base class: subclasses implement :meth:`weights` and set the capability flags.

    Every registered method declares :attr:`info` (:class:`MethodInfo`) and, unless the defaults of
    :class:`PropertySpec` hold for it, :attr:`properties`.

    Capability flags read by the trainer (and by users writing their own loop):

    - ``needs_gramian``: compute the Gramian this step and pass it to :meth:`weights`; otherwise
      ``None`` may be passed. It may change during training (AutoScale switches it off).
    - ``gramian_source``: ``"shared"`` for gradients w.r.t. the shared parameters, or
      ``"representation"`` for gradients w.r.t. the shared representation (MGDA-UB).
    - ``needs_post_step_losses``: call :meth:`post_step` with the losses of the same batch
      recomputed after the optimiser step (FAMO).
    - ``linear_objective``: whether :meth:`objective` is ``sum_i w_i L_i`` on the steps that take a
      Gramian, so that the update can be assembled from the per-task gradients the Gramian was
      made of (no extra backward pass).
    - ``max_grad_norm``: the norm to which the official code of the method clips the gradient of
      the shared parameters after the backward pass, or None.
    - ``run_options``: constructor options that a trainer fills from the run (:class:`RunContext`)
      unless the user sets them: ``"total_steps"`` (AutoScale's schedule) and ``"seed"`` (methods
      that draw random numbers).
    """

    info: ClassVar[MethodInfo]
    properties: ClassVar[PropertySpec] = PropertySpec()
    needs_gramian: bool = False
    gramian_source: GramianSource = "shared"
    needs_post_step_losses: bool = False
    run_options: ClassVar[tuple[RunOption, ...]] = ()

    def __init__(self, num_tasks: int) -> None:
        if not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(f"num_tasks must be a positive integer, got {num_tasks!r}")
        self.num_tasks = num_tasks

    @classmethod
    def delegates(cls, options: dict[str, Any]) -> tuple[str, ...]:
        """The registered methods an instance built with ``options`` builds and runs (AutoScale's
        explorer): their code is part of what its runs execute."""
        return ()

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        """Task weights (K,) for this step; detached unless the method learns them by backprop."""
        raise NotImplementedError

    def objective(self, losses: Tensor, weights: Tensor) -> Tensor:
        """The scalar to back-propagate: ``sum_i w_i L_i`` (overridden by methods with extra terms)."""
        return (weights * losses).sum()

    @property
    def linear_objective(self) -> bool:
        return type(self).objective is Weighting.objective

    @property
    def max_grad_norm(self) -> float | None:
        return None

    def parameters(self) -> list[Tensor]:
        """Learnable tensors the model's optimiser must also update (e.g. UW's log-variances)."""
        return []

    def to(self, device: torch.device | str) -> Weighting:
        """Move :meth:`parameters` to ``device`` in place (before the optimiser is built); returns self."""
        for p in self.parameters():
            p.data = p.data.to(device)
        return self

    def post_step(self, losses_after: Tensor) -> None:
        """Losses of the same batch after the optimiser step (only if ``needs_post_step_losses``)."""

    def epoch_end(self, mean_losses: Tensor) -> None:
        """Mean training losses (K,) of the epoch that just ended (DWA uses these)."""

    def record(self) -> dict[str, Any]:
        """JSON-serialisable information for the run record (e.g. AutoScale's window weights)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume this method exactly from a checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def check_inputs(self, losses: Tensor, gramian: Tensor | None) -> None:
        """Raise a ValueError naming the task if losses or Gramian are malformed or not finite.

        Called by the trainer before the optimiser step so that nothing is corrupted. For tensors
        on a GPU only shapes are checked here: reading whether a value is finite makes the host wait
        for the device every step; the trainer checks finiteness once an epoch instead
        (:mod:`autoscale.training.step_log`).
        """
        on_gpu = losses.device.type != "cpu"
        check_step_inputs(self.num_tasks, losses, gramian, needs_gramian=self.needs_gramian, check_finite=not on_gpu)


def check_step_inputs(
    num_tasks: int,
    losses: Tensor,
    gramian: Tensor | None,
    *,
    needs_gramian: bool,
    task_names: list[str] | None = None,
    check_finite: bool = True,
) -> None:
    """Validate one step's losses (K,) and Gramian (K, K); errors name the offending task.
    ``check_finite=False`` checks shapes only."""
    names = task_names or [f"task {i}" for i in range(num_tasks)]
    if losses.shape != (num_tasks,):
        raise ValueError(f"expected {num_tasks} task losses of shape ({num_tasks},), got shape {tuple(losses.shape)}")
    bad = ~torch.isfinite(losses.detach()) if check_finite else None
    if bad is not None and bad.any():
        which = ", ".join(f"{names[i]} (loss = {losses[i].item()})" for i in bad.nonzero().flatten().tolist())
        raise ValueError(f"non-finite loss for {which}; stopping before the optimiser step")
    if gramian is None:
        if needs_gramian:
            raise ValueError("this method needs the task-gradient Gramian but got None")
        return
    if gramian.shape != (num_tasks, num_tasks):
        raise ValueError(f"expected a ({num_tasks}, {num_tasks}) Gramian, got shape {tuple(gramian.shape)}")
    if not check_finite:
        return
    bad_rows = (~torch.isfinite(gramian.detach())).any(dim=1)
    if bad_rows.any():
        which = ", ".join(names[i] for i in bad_rows.nonzero().flatten().tolist())
        raise ValueError(f"non-finite gradient (Gramian row) for {which}; stopping before the optimiser step")
