"""Two-task toy problems on a 2-D parameter that each show one training issue (paper Fig. 1).

Every task loss is a quadratic L_i(θ) = ½ (θ - c_i)ᵀ H_i (θ - c_i) + b_i of a shared parameter
θ ∈ R², with gradient g_i(θ) = H_i (θ - c_i). Linear scalarization (LS) with weights w runs plain
gradient descent θ ← θ - η Σ_i w_i g_i(θ). Because every quantity is two-dimensional, the task
gradients, the LS update and the loss contours can be drawn, and the MTO metrics of
:mod:`autoscale.metrics` are computed from the same Gramian G_ij = g_i · g_j as on a real network.

:func:`training_issue_problems` gives a balanced reference and the four issues of the AutoScale
paper's Fig. 1 (arXiv 2508.13979), each built from the reference by changing one thing. At the
start θ_0 = 0 the reference has c_1 = 2 u(20°), c_2 = 2 u(70°) (u(α) the unit vector at angle α),
H_i = I and b_i = 0, so |g_1| = |g_2| = 2, cos(g_1, g_2) = cos 50°, L_1 = L_2 = 2:

- *gradient magnitude dominance*: H_1 = 10 I, so |g_1| = 20 = 10 |g_2| and
  GMS = 2·20·2 / (20² + 2²) = 20/101; the update follows task 1 and the LS optimum
  (10 c_1 + c_2)/11 lies next to c_1.
- *gradient conflict*: c_1 = 2 u(-55°), c_2 = 2 u(95°), so the gradients are 150° apart and
  cos(g_1, g_2) = cos 150° = -√3/2; their sum is short and both tasks stall.
- *imbalanced convergence speed*: each task sees one coordinate, c_1 = (2, 0) with H_1 = diag(1, 0)
  and c_2 = (0, 4) with H_2 = diag(0, 1/4), so l_1(0) = l_2(0) = 2 and |g_1| = 2 |g_2| = 2. Gradient
  descent shrinks the distance to each optimum by (1 - η h_i) per step, so the losses decay as
  (1 - η h_i)^(2t) and the inverse training rates l_i(t)/l_i(0) (GradNorm) drift apart.
- *imbalanced loss scale*: the reference geometry plus an irreducible offset b_2 = 18 on task 2,
  so l = (2, 20) and the relative loss scale is (1/11, 10/11), while the gradients, hence GMS and
  cosine, are exactly those of the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from autoscale import metrics


def unit(degrees: float) -> np.ndarray:
    """The unit vector u(α) = (cos α, sin α) for α in degrees."""
    rad = np.deg2rad(degrees)
    return np.array([np.cos(rad), np.sin(rad)])


@dataclass(frozen=True)
class QuadraticTask:
    """L(θ) = ½ (θ - c)ᵀ H (θ - c) + b with H symmetric positive semi-definite (2 x 2)."""

    center: np.ndarray
    hessian: np.ndarray = field(default_factory=lambda: np.eye(2))
    offset: float = 0.0

    def loss(self, theta: np.ndarray) -> np.ndarray:
        """Loss at θ of shape (..., 2) (a grid for contours, or one point); shape (...)."""
        d = np.asarray(theta, dtype=float) - self.center
        return 0.5 * np.einsum("...i,ij,...j->...", d, self.hessian, d) + self.offset

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """g(θ) = H (θ - c), shape of θ."""
        return (np.asarray(theta, dtype=float) - self.center) @ self.hessian.T


@dataclass(frozen=True)
class Trajectory:
    """Gradient-descent trajectory of an LS run on a toy problem, steps 0..T.

    ``thetas`` (T+1, 2) are the iterates, ``losses`` (T+1, K) and ``gradients`` (T+1, K, 2) the
    task losses and gradients at each iterate; ``updates`` (T+1, 2) are -η Σ_i w_i g_i.
    """

    thetas: np.ndarray
    losses: np.ndarray
    gradients: np.ndarray
    updates: np.ndarray

    @property
    def gramians(self) -> torch.Tensor:
        """Per-step Gramians G_ij = g_i · g_j, (T+1, K, K) float64: the input of the metrics."""
        grads = torch.as_tensor(self.gradients, dtype=torch.float64)
        return grads @ grads.mT


@dataclass(frozen=True)
class ToyProblem:
    """A named two-task problem with its LS run: start θ_0, weights w, step size η, steps T.

    ``metric`` names the key of :func:`issue_metrics` that measures the issue this problem shows.
    """

    name: str
    title: str
    metric: str
    tasks: tuple[QuadraticTask, ...]
    start: np.ndarray = field(default_factory=lambda: np.zeros(2))
    weights: tuple[float, ...] = (1.0, 1.0)
    lr: float = 0.05
    steps: int = 40

    def losses(self, theta: np.ndarray) -> np.ndarray:
        """Task losses at θ (..., 2) -> (..., K)."""
        return np.stack([t.loss(theta) for t in self.tasks], axis=-1)

    def gradients(self, theta: np.ndarray) -> np.ndarray:
        """Task gradients at θ (2,) -> (K, 2)."""
        return np.stack([t.gradient(theta) for t in self.tasks])

    def run(self) -> Trajectory:
        """Gradient descent on Σ_i w_i L_i from ``start`` for ``steps`` steps."""
        w = np.asarray(self.weights, dtype=float)
        thetas = [np.asarray(self.start, dtype=float)]
        grads, updates = [], []
        for step in range(self.steps + 1):
            g = self.gradients(thetas[-1])
            grads.append(g)
            updates.append(-self.lr * w @ g)
            if step < self.steps:
                thetas.append(thetas[-1] + updates[-1])
        thetas_arr = np.stack(thetas)
        return Trajectory(thetas_arr, self.losses(thetas_arr), np.stack(grads), np.stack(updates))


def issue_metrics(problem: ToyProblem, trajectory: Trajectory) -> dict[str, float | np.ndarray]:
    """The metrics that tell the four issues apart, computed with :mod:`autoscale.metrics`.

    Gradient and loss-scale metrics are taken at the start θ_0 (where the figure draws the
    gradients), the inverse training rate at the end of the run:

    - ``gms``: GMS(w_1 g_1, w_2 g_2) of the weighted gradients (Yu et al. 2020), 1 = equal norms.
    - ``cos``: cos(g_1, g_2), < 0 = conflict (Yu et al. 2020); LS weights do not change it.
    - ``rls``: relative loss scale w_i l_i / Σ_j w_j l_j (K,), 1/K each when balanced.
    - ``itr``: inverse training rate l_i(T) / l_i(0) (K,) (GradNorm, Chen et al. 2018).
    - ``relative_itr``: its relative form K r_i / Σ_j r_j (K,), 1 each when all tasks train
      equally fast.
    """
    w = torch.as_tensor(problem.weights, dtype=torch.float64)
    gram0 = trajectory.gramians[0]
    losses = torch.as_tensor(trajectory.losses, dtype=torch.float64)
    itr = metrics.inverse_training_rate(losses[-1], losses[0])
    return {
        "gms": metrics.magnitude_similarity(metrics.weighted_gramian(gram0, w))[0, 1].item(),
        "cos": metrics.cosine_similarity(gram0)[0, 1].item(),
        "rls": metrics.relative_loss_scale(w * losses[0]).numpy(),
        "itr": itr.numpy(),
        "relative_itr": metrics.relative(itr).numpy(),
    }


def _reference_tasks(offset_2: float = 0.0, hessian_1: np.ndarray | None = None) -> tuple[QuadraticTask, ...]:
    """The balanced reference geometry, optionally with task 1's Hessian or task 2's offset changed."""
    return (
        QuadraticTask(2 * unit(20), np.eye(2) if hessian_1 is None else hessian_1),
        QuadraticTask(2 * unit(70), offset=offset_2),
    )


def training_issue_problems() -> dict[str, ToyProblem]:
    """The balanced reference and the four training issues of the paper's Fig. 1 (module docstring),
    by name, in the order the figure draws them."""
    problems = [
        ToyProblem("balanced", "balanced (reference)", "gms", _reference_tasks()),
        ToyProblem("dominance", "gradient magnitude dominance", "gms", _reference_tasks(hessian_1=10 * np.eye(2))),
        ToyProblem("conflict", "gradient conflict", "cos", (QuadraticTask(2 * unit(-55)), QuadraticTask(2 * unit(95)))),
        ToyProblem(
            "convergence",
            "imbalanced convergence speed",
            "relative_itr",
            (
                QuadraticTask(np.array([2.0, 0.0]), np.diag([1.0, 0.0])),
                QuadraticTask(np.array([0.0, 4.0]), np.diag([0.0, 0.25])),
            ),
        ),
        ToyProblem("loss_scale", "imbalanced loss scale", "rls", _reference_tasks(offset_2=18.0)),
    ]
    return {p.name: p for p in problems}


def issue_table(problems: Mapping[str, ToyProblem]) -> pd.DataFrame:
    """:func:`issue_metrics` of every problem, one row each; per-task metrics as "a / b" columns."""
    rows = {}
    for name, problem in problems.items():
        values = issue_metrics(problem, problem.run())
        rows[name] = {
            "issue shown": problem.title,
            "GMS": values["gms"],
            "cos": values["cos"],
            "relative loss scale": " / ".join(f"{v:.2f}" for v in values["rls"]),
            "relative ITR at end": " / ".join(f"{v:.2f}" for v in values["relative_itr"]),
        }
    return pd.DataFrame.from_dict(rows, orient="index")
