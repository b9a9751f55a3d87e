"""Nash-MTL (Navon et al., "Multi-task learning as a bargaining game", ICML 2022)."""

from __future__ import annotations

import warnings
from typing import Any

import cvxpy as cp
import numpy as np
import torch
from torch import Tensor

from autoscale.methods._common import GramianWeighting, check_positive
from autoscale.methods.base import MethodInfo, PropertySpec
from autoscale.methods.registry import register

# cvxpy solvers able to handle the exponential cones of the log constraints.
EXP_CONE_SOLVERS = ("CLARABEL", "SCS", "ECOS", "MOSEK")
_ACCEPTED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)


@register("nashmtl")
class NashMTL(GramianWeighting):
    """Nash-MTL: the Nash bargaining weights alpha > 0 solving G alpha = 1 / alpha.

    Official code (``AvivNavon/nash-mtl``, ``methods/weight_methods.py``, class ``NashMTL``), from the
    Gramian. With n = ||G||_F and G' = G / n, the official sequence of convex approximations is run for
    beta = sqrt(n) alpha (so G' beta = 1/beta exactly when G alpha = 1/alpha): starting from the
    previous step's beta (ones at first), up to ``optim_niter`` = 20 problems

        beta_{t+1} = argmin_{beta >= 0} 1^T G' beta + phi_t · beta
                     s.t. -log(beta_i) - log((G' beta)_i) <= 0 for all i,
        phi_t = 1/beta_t + (1 / (G' beta_t)) G'   (linearisation at beta_t),

    stopping when |G' beta_t - 1/(beta_t + 1e-10)| < 1e-3 or the iterates change by less than 1e-6
    (official criteria, returning beta_t); then alpha = beta / sqrt(n), on the scale of G alpha = 1/alpha
    (official scale, not normalised). ``update_weights_every`` = 1.

    Deviation, for scale invariance: the official code keeps n inside the problem (constraint
    -log(alpha_i n) - log((G' alpha)_i) <= 0, linear term divided by n) and solves for alpha itself, so
    its iterates and its absolute stopping tolerances depend on the gradient scale, and the solver fails
    for small gradients (|G| ~ 1e-6) or stops early for large ones. The version here is the official one
    exactly when ||G||_F = 1 and is equivariant otherwise; both aim at the same fixed point.

    The official code also clips the norm of the shared-parameter gradient to ``max_norm`` = 1.0 after
    the backward pass; :attr:`max_grad_norm` tells the trainer (``max_norm = 0`` disables it).

    Solver: cvxpy with ``solver`` (default CLARABEL; must be installed and support exponential cones;
    the official ECOS is not installed here). The problem is built once with parameters (DPP), as the
    official code does. Failure policy: the official code catches every solver exception and keeps the
    previous alpha, which with a missing solver silently freezes the weights at their initial value.
    Here a failed step (solver exception, a status other than optimal, a non-finite solution, or a
    non-finite linearisation when G' beta_t has a zero entry) is counted
    in :meth:`record`, warned about, and replaced by the exact fixed point of G alpha = 1/alpha, the
    minimiser of the strictly convex 1/2 alpha^T G alpha - sum_i log alpha_i, found by damped Newton
    (the point the official sequence converges to). Where that has no solution (singular G with a
    non-negative null direction, e.g. a task with a zero gradient) the previous alpha is kept, and
    that too is counted and warned about, never silent.
    """

    info = MethodInfo(label="Nash-MTL", family="gramian", table_row=120)
    properties = PropertySpec(
        equivariance="trajectory",
        reason="each solve warm-starts from the previous step's solution (and counts failures)",
        # Each of two runs stops at the documented residual 1e-3 of the bargaining equation, at
        # different iterates (the solver sees the constraints in another order): seen up to 4e-4 apart.
        tol=5e-3,
    )

    def __init__(
        self,
        num_tasks: int,
        max_norm: float = 1.0,
        update_weights_every: int = 1,
        optim_niter: int = 20,
        solver: str = "CLARABEL",
    ) -> None:
        super().__init__(num_tasks)
        check_positive("max_norm", max_norm, allow_zero=True)
        for name, value in (("update_weights_every", update_weights_every), ("optim_niter", optim_niter)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        usable = sorted(set(EXP_CONE_SOLVERS) & set(cp.installed_solvers()))
        if solver not in usable:
            raise ValueError(f"solver {solver!r} is not an installed exponential-cone solver; use one of {usable}")
        self.max_norm = float(max_norm)
        self.update_weights_every = update_weights_every
        self.optim_niter = optim_niter
        self.solver = solver
        self.alpha = np.ones(num_tasks)  # the weights in use
        self.beta = np.ones(num_tasks)  # the same on the normalised scale: warm start of the next solve
        self.step = 0
        self.solver_failures = 0
        self.kept_previous = 0
        self._problem: tuple[cp.Problem, cp.Variable, cp.Parameter, cp.Parameter] | None = None

    @property
    def max_grad_norm(self) -> float | None:
        return self.max_norm or None

    @property
    def needs_gramian(self) -> bool:  # type: ignore[override]
        """Only on the steps where the weights are recomputed."""
        return self.step % self.update_weights_every == 0

    def from_gramian(self, losses: Tensor, gramian: Tensor | None) -> Tensor:
        if self.step % self.update_weights_every == 0:
            self.alpha = self._solve(gramian.numpy())
        self.step += 1
        return torch.from_numpy(self.alpha.copy())

    def _build(self) -> tuple[cp.Problem, cp.Variable, cp.Parameter, cp.Parameter]:
        k = self.num_tasks
        beta = cp.Variable(k, nonneg=True)
        gramian = cp.Parameter((k, k))
        linear = cp.Parameter(k)
        g_beta = gramian @ beta
        constraints = [-cp.log(beta[i]) - cp.log(g_beta[i]) <= 0 for i in range(k)]
        problem = cp.Problem(cp.Minimize(cp.sum(g_beta) + linear @ beta), constraints)
        return problem, beta, gramian, linear

    def _solve(self, gramian: np.ndarray) -> np.ndarray:
        if self._problem is None:
            self._problem = self._build()
        problem, beta, g_param, linear = self._problem
        norm = float(np.linalg.norm(gramian))
        if norm == 0.0:
            return self._keep_previous("the Gramian is zero")
        normalized = gramian / norm
        g_param.value = normalized
        root = np.sqrt(norm)
        beta_t = self.beta
        for _ in range(self.optim_niter):
            with np.errstate(divide="ignore", invalid="ignore"):
                phi = 1.0 / beta_t + (1.0 / (normalized @ beta_t)) @ normalized
            if not np.all(np.isfinite(phi)):  # a task with zero gradient: G' beta has a zero entry
                return self._fallback(normalized, root, "non-finite linearisation")
            linear.value = phi
            failure = self._run(problem, beta)
            if failure is not None:
                return self._fallback(normalized, root, failure)
            beta_next = np.asarray(beta.value, dtype=np.float64)
            if (
                np.linalg.norm(normalized @ beta_t - 1.0 / (beta_t + 1e-10)) < 1e-3
                or np.linalg.norm(beta_next - beta_t) < 1e-6
            ):
                break
            beta_t = beta_next
        self.beta = beta_t
        return beta_t / root

    def _run(self, problem: cp.Problem, variable: cp.Variable) -> str | None:
        """Solve once; the reason for failure, or None."""
        try:
            # No warm start: the solution must depend only on the saved state, so resumed runs match.
            problem.solve(solver=self.solver, warm_start=False)
        except (cp.SolverError, ValueError, ArithmeticError) as err:
            return f"solver {self.solver}: {type(err).__name__}: {err}"
        if problem.status not in _ACCEPTED:
            return f"solver {self.solver}: status {problem.status}"
        if variable.value is None or not np.all(np.isfinite(variable.value)):
            return f"solver {self.solver}: no finite solution"
        return None

    def _fallback(self, normalized: np.ndarray, root: float, reason: str) -> np.ndarray:
        """After a failed solve: the exact fixed point (G' beta = 1/beta, alpha = beta / root), else keep alpha."""
        self.solver_failures += 1
        exact = nash_fixed_point(normalized)
        if exact is None:
            return self._keep_previous(f"convex approximation failed ({reason}) and G alpha = 1/alpha has no solution")
        warnings.warn(
            f"Nash-MTL: convex approximation failed ({reason}); using the exact solution of G alpha = 1/alpha "
            f"(failure {self.solver_failures})",
            stacklevel=4,
        )
        self.beta = exact
        return exact / root

    def _keep_previous(self, reason: str) -> np.ndarray:
        self.kept_previous += 1
        warnings.warn(f"Nash-MTL: {reason}; keeping the previous weights {self.alpha.tolist()}", stacklevel=4)
        return self.alpha

    def record(self) -> dict[str, Any]:
        return {"solver_failures": self.solver_failures, "kept_previous": self.kept_previous}

    def state_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha.tolist(),
            "beta": self.beta.tolist(),
            "step": self.step,
            "solver_failures": self.solver_failures,
            "kept_previous": self.kept_previous,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.alpha = np.asarray(state["alpha"], dtype=np.float64)
        self.beta = np.asarray(state["beta"], dtype=np.float64)
        self.step = int(state["step"])
        self.solver_failures = int(state["solver_failures"])
        self.kept_previous = int(state["kept_previous"])


def nash_fixed_point(gramian: np.ndarray, *, tol: float = 1e-10, max_iter: int = 100) -> np.ndarray | None:
    """The alpha > 0 with G alpha = 1/alpha, or None if there is none (or Newton does not converge).

    It is the unique minimiser of f(alpha) = 1/2 alpha^T G alpha - sum_i log alpha_i (strictly convex:
    its Hessian G + diag(1/alpha^2) is positive definite), found by Newton's method with a backtracking
    line search that keeps alpha > 0. Solved for G' = G / ||G||_F and mapped back with
    alpha = alpha' / sqrt(||G||_F).
    """
    norm = float(np.linalg.norm(gramian))
    if norm == 0.0:
        return None
    g = gramian / norm
    alpha = np.ones(len(g))

    def objective(a: np.ndarray) -> float:
        return 0.5 * a @ g @ a - np.sum(np.log(a))

    for _ in range(max_iter):
        # Converged when alpha_i (G alpha)_i = 1 for all i (scale-free; the gradient alone also
        # vanishes along a null direction of G as alpha grows without bound).
        if np.max(np.abs(alpha * (g @ alpha) - 1.0)) < tol:
            return alpha / np.sqrt(norm)
        gradient = g @ alpha - 1.0 / alpha
        step = np.linalg.solve(g + np.diag(1.0 / alpha**2), gradient)
        t = 1.0
        # f is self-concordant, so once the Newton decrement gradient . step is small the full step
        # converges quadratically; a line search there would compare objective values that differ
        # by less than their rounding and reject every step.
        if gradient @ step < 1e-6 and np.all(alpha - step > 0):
            alpha = alpha - step
            continue
        while np.any(alpha - t * step <= 0) or objective(alpha - t * step) > objective(alpha) - 0.25 * t * (
            gradient @ step
        ):
            t *= 0.5
            if t < 1e-12:
                return None
        alpha = alpha - t * step
    return None
