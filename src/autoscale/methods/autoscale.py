"""AutoScale (arXiv 2508.13979): linear scalarization weights chosen from MTO metrics in one run.

The method has three parts: the window solver (:mod:`autoscale.methods.window`), the predictors
(:mod:`autoscale.methods.predictors`) and the two-phase method of this module.

1. **Window costs and solver** (:func:`window_cost`, :func:`solve_window`). During exploration every
   step t contributes its Gramian G^t (K, K), G_ij = g_i · g_j over the shared parameters, and its
   losses l^t (K,). A window of τ steps is reduced to one weight vector

       w = argmin_w (1/τ) sum_t F^t(w)   s.t.  sum_i w_i = K,  w >= 0,

   with F^t one of the paper's cost functions (its Table 4):

   - ``"equal_grad"`` ("Equal |g|", the paper's Eq. 2 and its default): F^t(w) = ||A^t w||_2, where
     A^t has one row per task pair i < j with +|g_i^t| in column i and -|g_j^t| in column j, i.e.
     F^t(w)^2 = sum_{i<j} (w_i |g_i^t| - w_j |g_j^t|)^2 with |g_i^t| = sqrt(G^t_ii);
   - ``"equal_loss"`` ("Equal |l|"): the same with |l_i^t| in place of |g_i^t|;
   - ``"condition"`` ("Low cond."): F^t(w) = sigma_max / sigma_min of [w_1 g_1^t ... w_K g_K^t]
     = sqrt(lambda_max / lambda_min) of W G^t W, W = diag(w).

2. **Predictors** (:func:`predict`): the final weight ŵ = f(window weights) — ``"avg"`` (Avg W),
   ``"last"`` (Last W), ``"linear"`` (L.E., per-task line evaluated at γT), ``"exp"`` (E.E., per-task
   a·exp(-b·x) + c evaluated at γT); clipped at 0 and renormalised to sum K.

3. **The two-phase method** (:class:`AutoScale`, registered as ``"autoscale"``): an exploration MTO
   for steps [0, floor(αT)), then linear scalarization with ŵ (or the L.E.† schedule).

Conventions fixed here (the paper text leaves them open):

- *Steps* are 0-based training-step indices; window k covers steps [kτ, (k+1)τ) and is represented
  by its **midpoint** kτ + (τ-1)/2, the mean of its step indices. The window weight is an average
  over the window, and for a linear trend the average equals the value at the mean step, so the
  midpoint makes line extrapolation to γT unbiased.
- The exploration method's own weight scale is kept in phase 1 (IMTL-G sums to 1); the predicted LS
  weights sum to K. The update sum_i w_i g_i therefore grows by about K at the switch
  after an IMTL-G exploration (a sum-1 convex combination becomes a sum-K one): with SGD/momentum the
  effective learning rate of phase 2 is K times that of phase 1, exactly the learning rate that
  unitary LS (w = 1, sum K) would use; with Adam the scale of the weights matters little. As in the
  paper, one learning rate is used for the whole run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from autoscale.methods.base import MethodInfo, PropertySpec, Weighting
from autoscale.methods.predictors import SCHEDULES, finalise_weights, fit_lines, predict
from autoscale.methods.registry import build_method, register
from autoscale.methods.window import COSTS, check_option, solve_window

# --------------------------------------------------------------------------------------------------
# The two-phase method
# --------------------------------------------------------------------------------------------------


# The paper's defaults: IMTL-G exploration over the first 20% of training, windows of
# 50 steps, the Equal |g| cost, and the per-task line (L.E.) evaluated at half the run. Every other
# place that needs them (plans, ablations, the verdict, the benchmark) reads them from here.
DEFAULTS: dict[str, Any] = {
    "explore": "imtlg",
    "alpha": 0.2,
    "window": 50,
    "cost": "equal_grad",
    "predictor": "linear",
    "gamma": 0.5,
}


@register("autoscale")
class AutoScale(Weighting):
    """AutoScale: MTO exploration, then linear scalarization with predicted weights.

    Phase 1, steps [0, floor(αT)) ("explore"): the exploration method (``explore``, default IMTL-G,
    built with ``build_method(explore, num_tasks, **explore_options)``) gives the weights; each
    step's Gramian and losses are recorded, and every τ steps the closed window is reduced to
    window weights by :func:`solve_window` (``cost``) and its raw data dropped, so memory is
    O(τ K^2). Phase 2, steps [floor(αT), T) ("scalarize"): fixed weights ŵ = :func:`predict`
    (``predictor``) at γT, or with ``predictor="linear_follow"`` (L.E.†) the fitted line followed
    step by step, w(t) = line(min(t, γT)) clipped at 0 and renormalised to sum K, held from γT on.
    Phase 2 needs no Gramian: it costs exactly linear scalarization.

    One call of :meth:`weights` is one training step; the method counts steps itself.

    Decisions (the paper leaves them open):

    - switch_step = floor(αT) (computed as floor(round(αT, 9)), so that e.g. α = 0.29, T = 100 gives
      29 despite binary rounding). The switch happens right after the weights of step
      switch_step - 1 are returned, so that ``needs_gramian`` is already False when the training
      loop asks about step switch_step; it only happens if switch_step < T. Steps called past T keep
      the phase-2 weights.
    - A partial last window (switch_step not a multiple of τ) is solved if it has at least
      ceil(τ/2) steps and dropped otherwise, except when there is no complete window (αT < τ):
      then it is solved if it has any step.
    - α = 0: no exploration and no windows: phase 2 from step 0 with uniform weights (unitary LS).
      α = 1: exploration all along, never switches (``final_weights`` stays None).
    - Window steps are window midpoints, the mean of the window's step indices (module docstring).
    - Window weights always sum to K; exploration weights keep the exploration method's scale
      (module docstring: effect on the learning rate).

    Delegation to the exploration method: in phase 1 ``needs_gramian`` is True whatever the
    exploration method needs (the costs need G), and G must be over the shared parameters
    (``gramian_source`` "shared"; a method that needs representation Gramians, e.g. MGDA-UB, is
    rejected). ``needs_post_step_losses``, :meth:`post_step` and :meth:`objective` follow the method
    that produced the most recent weights (so the last exploration step is still served by the
    exploration method after the switch); :meth:`epoch_end` is passed on during phase 1.
    :meth:`parameters` always returns the exploration method's parameters, since optimisers are built
    once; after the switch they get no gradient. Limitation for methods with learnable parameters
    (UW): their regulariser is in the phase-1 objective only, and the costs see the Gramian of the
    raw losses, not of the UW-weighted ones — AutoScale's weights are a function of the gradients,
    not of the exploration weights, so this is the intended input. Gradient clipping is set once per
    run and AutoScale declares none (:attr:`max_grad_norm` is None): an explorer whose official code
    clips (FAMO, Nash-MTL) runs unclipped during phase 1.
    """

    info = MethodInfo(label="AutoScale", family="gramian", in_paper=True, table_row=1000)
    properties = PropertySpec(
        options=lambda k: {"total_steps": 8},
        equivariance="trajectory",
        reason="counts steps, buffers exploration windows, solves them and switches to predicted weights",
        tol=1e-6,  # window weights from Clarabel (gap tolerance 1e-10)
        state_options={"alpha": 0.5, "window": 2},  # 2 windows, a mid-window state, a switch at step 4
    )

    run_options = ("total_steps",)

    @classmethod
    def delegates(cls, options: dict[str, Any]) -> tuple[str, ...]:
        return (options.get("explore", DEFAULTS["explore"]),)

    def __init__(
        self,
        num_tasks: int,
        total_steps: int,
        explore: str = DEFAULTS["explore"],
        alpha: float = DEFAULTS["alpha"],
        window: int = DEFAULTS["window"],
        cost: str = DEFAULTS["cost"],
        predictor: str = DEFAULTS["predictor"],
        gamma: float = DEFAULTS["gamma"],
        explore_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(num_tasks)
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        if not isinstance(alpha, int | float) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        if not isinstance(gamma, int | float) or not math.isfinite(gamma) or gamma < 0:
            raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
        check_option("cost", cost, COSTS)
        check_option("predictor", predictor, SCHEDULES)
        if explore == "autoscale":
            raise ValueError("explore cannot be 'autoscale' itself")
        self.explore_method = build_method(explore, num_tasks, **(explore_options or {}))
        if self.explore_method.gramian_source != "shared":
            raise ValueError(
                f"exploration method {explore!r} uses {self.explore_method.gramian_source!r} Gramians; AutoScale's "
                "costs need Gramians over the shared parameters"
            )
        self.config = {
            "num_tasks": num_tasks,
            "total_steps": total_steps,
            "explore": explore,
            "alpha": float(alpha),
            "window": window,
            "cost": cost,
            "predictor": predictor,
            "gamma": float(gamma),
            "explore_options": dict(explore_options or {}),
        }
        self.total_steps = total_steps
        self.window = window
        self.cost = cost
        self.predictor = predictor
        self.switch_step = math.floor(round(alpha * total_steps, 9))
        self.at_step = gamma * total_steps
        self._reset()
        if self.switch_step == 0:
            self._switch()

    # ---- state ----------------------------------------------------------------------------------

    def _reset(self) -> None:
        self.step = 0
        self._buffer_gramians: list[Tensor] = []
        self._buffer_losses: list[Tensor] = []
        self._window_weights: list[np.ndarray] = []
        self._window_steps: list[float] = []
        self._final: np.ndarray | None = None
        self._line: tuple[np.ndarray, np.ndarray] | None = None  # L.E.† coefficients
        self._switched = False
        self._last_explored = False

    @property
    def phase(self) -> str:
        """``"explore"`` until the switch, then ``"scalarize"``."""
        return "scalarize" if self._switched else "explore"

    @property
    def needs_gramian(self) -> bool:  # type: ignore[override]
        """True for the steps of phase 1 (the costs need G), False in phase 2."""
        return not self._switched

    @property
    def needs_post_step_losses(self) -> bool:  # type: ignore[override]
        return self.explore_method.needs_post_step_losses and (self._last_explored or not self._switched)

    @property
    def window_weights(self) -> Tensor:
        """(N, K) float64 weights of the windows solved so far, each summing to K."""
        if not self._window_weights:
            return torch.zeros(0, self.num_tasks, dtype=torch.float64)
        return torch.from_numpy(np.stack(self._window_weights))

    @property
    def window_steps(self) -> Tensor:
        """(N,) float64 representative step (midpoint) of each solved window."""
        return torch.tensor(self._window_steps, dtype=torch.float64)

    @property
    def final_weights(self) -> Tensor | None:
        """ŵ (K,) float64 once predicted (L.E.†: the weights held from γT on), else None."""
        return None if self._final is None else torch.from_numpy(self._final.copy())

    # ---- phase 1 --------------------------------------------------------------------------------

    def _close_window(self) -> None:
        """Solve the buffered window and drop its raw data."""
        n = len(self._buffer_losses)
        start = self.step - n
        gramians = torch.stack(self._buffer_gramians).to(device="cpu", dtype=torch.float64)
        losses = torch.stack(self._buffer_losses).to(device="cpu", dtype=torch.float64)
        self._window_weights.append(solve_window(self.cost, gramians, losses).numpy())
        self._window_steps.append(start + (n - 1) / 2)
        self._buffer_gramians.clear()
        self._buffer_losses.clear()

    def _switch(self) -> None:
        """End of phase 1: close a partial window (rule in the class docstring) and predict ŵ."""
        n = len(self._buffer_losses)
        if n and (n >= math.ceil(self.window / 2) or not self._window_weights):
            self._close_window()
        self._buffer_gramians.clear()
        self._buffer_losses.clear()
        self._switched = True
        if not self._window_weights:
            self._final = np.ones(self.num_tasks)
            return
        steps, ww = np.asarray(self._window_steps), np.stack(self._window_weights)
        if self.predictor == "linear_follow":
            if len(steps) >= 2 and np.ptp(steps) > 0:
                self._line = fit_lines(steps, ww)
            self._final = predict("linear", steps, ww, self.at_step).numpy()
        else:
            self._final = predict(self.predictor, steps, ww, self.at_step).numpy()

    def weights(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        """Weights (K,) for this step, in the dtype and on the device of ``losses``."""
        if self._switched:
            # No input check here: like fixed-weight LS, phase 2 must not synchronise with the device.
            t = self.step
            self.step += 1
            self._last_explored = False
            if self._line is not None:
                a, b = self._line
                w = finalise_weights(a + b * min(float(t), self.at_step))
            else:
                w = torch.from_numpy(self._final)
            return w.to(device=losses.device, dtype=losses.dtype)
        self.check_inputs(losses, gramian)
        w = self.explore_method.weights(losses, gramian)
        self._buffer_gramians.append(gramian.detach().clone())
        self._buffer_losses.append(losses.detach().clone())
        self.step += 1
        self._last_explored = True
        if len(self._buffer_losses) == self.window:
            self._close_window()
        if self.step == self.switch_step and self.switch_step < self.total_steps:
            self._switch()
        return w

    # ---- delegation ------------------------------------------------------------------------------

    def objective(self, losses: Tensor, weights: Tensor) -> Tensor:
        if self._last_explored:
            return self.explore_method.objective(losses, weights)
        return (weights * losses).sum()

    def post_step(self, losses_after: Tensor) -> None:
        if self._last_explored and self.explore_method.needs_post_step_losses:
            self.explore_method.post_step(losses_after)

    def epoch_end(self, mean_losses: Tensor) -> None:
        if not self._switched:
            self.explore_method.epoch_end(mean_losses)

    def parameters(self) -> list[Tensor]:
        return self.explore_method.parameters()

    @property
    def linear_objective(self) -> bool:
        """The explorer's: AutoScale takes Gramians in phase 1 only, where the explorer's objective is used."""
        return self.explore_method.linear_objective

    # ---- records and checkpoints --------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        """JSON-serialisable: config, window weights and steps, final weights, switch step, phase."""
        return {
            "config": self.config,
            "window_weights": [w.tolist() for w in self._window_weights],
            "window_steps": list(self._window_steps),
            "final_weights": None if self._final is None else self._final.tolist(),
            "switch_step": self.switch_step,
            "phase": self.phase,
            "step": self.step,
            "explore": self.explore_method.record(),
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything to resume exactly, including a partially filled window and the explorer's state."""
        return {
            "config": self.config,
            "step": self.step,
            "buffer_gramians": [g.cpu().clone() for g in self._buffer_gramians],
            "buffer_losses": [x.cpu().clone() for x in self._buffer_losses],
            "window_weights": [w.copy() for w in self._window_weights],
            "window_steps": list(self._window_steps),
            "final": None if self._final is None else self._final.copy(),
            "line": None if self._line is None else tuple(c.copy() for c in self._line),
            "switched": self._switched,
            "last_explored": self._last_explored,
            "explore": self.explore_method.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config"] != self.config:
            raise ValueError(f"checkpoint is for AutoScale config {state['config']}, this one is {self.config}")
        self.step = int(state["step"])
        self._buffer_gramians = [g.clone() for g in state["buffer_gramians"]]
        self._buffer_losses = [x.clone() for x in state["buffer_losses"]]
        self._window_weights = [np.array(w, dtype=np.float64) for w in state["window_weights"]]
        self._window_steps = [float(s) for s in state["window_steps"]]
        self._final = None if state["final"] is None else np.array(state["final"], dtype=np.float64)
        self._line = None if state["line"] is None else tuple(np.array(c, dtype=np.float64) for c in state["line"])
        self._switched = bool(state["switched"])
        self._last_explored = bool(state["last_explored"])
        self.explore_method.load_state_dict(state["explore"])
