"""Weights of a whole stack of runs at once, solved on the device: batched solvers and their dispatcher.

Why. The stacked trainer (:mod:`autoscale.training.stacked`) computes the Gramians of its M runs,
(M, K, K), on the device in one pass, then asks each run's method for its weights, one run after
another. The Gramian methods solve on the host in float64
(:class:`~autoscale.methods._common.GramianWeighting`): every run's copy to the host makes the host
wait until the device has finished all the work queued so far, the device then idles while the host
solves, and this happens M times a step. The solvers here take the stack's Gramians G (n, K, K)
(and losses (n, K) where the method reads them) and return the weights (n, K) in the dtype and on
the device of G, without synchronising: no ``.item()``, no truth value of a tensor, no copy to or
from the host, no Python control flow on values, no output whose shape depends on values, and a
fixed amount of work (iterative parts run a fixed number of iterations). Like the per-run methods
they compute in float64. :func:`stacked_weights` routes each run of a stack to its solver.

Solvers, their formulas and sources. Tolerance of the batched solvers against the per-run
methods: |Δw| <= (1e-12 + 100 eps_64 kappa) max(1, max_i |w_i|), plus the rounding of both results
to the input dtype: rounding, amplified by the conditioning kappa of the problem, which neither
solver can avoid (each entry says what kappa is). ``tests/test_batched_solvers.py`` checks it on
the CPU for random Gramians (well-conditioned, nearly collinear gradients, rank-deficient, one zero
gradient; K = 2, 3, 4; n up to 16; float64 and float32 Gramians), where at most a quarter of it is
used.

- IMTL-G (:func:`imtlg_weights`; Liu et al., ICLR 2021, Sec. 3.2 and Eq. 7; per-run
  :mod:`autoscale.methods.imtlg`, which is torchjd's ``IMTLGWeighting``): closed form
  alpha = G^+ d / (1^T G^+ d) with d = sqrt(diag G), and alpha = 0 when |1^T G^+ d| < 1e-12.
  G^+ follows ``torch.linalg.pinv``: singular values (for a symmetric G the |eigenvalues|) at most
  K eps_64 sigma_max are dropped. kappa: sigma_max / the smallest kept sigma.
- MGDA and MGDA-UB for K = 2 (:func:`mgda2_weights`; Sener & Koltun, NeurIPS 2018, Sec. 3.2 and
  Algorithm 1; per-run :mod:`autoscale.methods.mgda` with Wolfe's min-norm solver of
  :mod:`autoscale.methods._common`): on the normalised G' = G / (n n^T), with i the task of the
  smaller G'_ii (task 1 on a tie) and o the other, w = e_i if G'_oi >= G'_ii - 1e-12 max_j G'_jj
  (Wolfe's optimality test at the vertex where it starts), else the minimum-norm point of the
  segment, w_o = (G'_ii - G'_oi) / (G'_ii - G'_oi - G'_io + G'_oo), w_i = 1 - w_o. For a symmetric
  G' this is w_1 = clip((G'_22 - G'_12) / (G'_11 + G'_22 - 2 G'_12), 0, 1) outside the 1e-12 band
  of the vertex test. kappa: max_j G'_jj / (G'_11 + G'_22 - 2 G'_12), at least 1.
- Aligned-MTL (:func:`alignedmtl_weights`; Senushkin et al., CVPR 2023, Algorithm 1; per-run
  :mod:`autoscale.methods.alignedmtl`): eigendecomposition G = V diag(lambda) V^T of the lower
  triangle (as ``torch.linalg.eigh``), eigenvalues above lambda_max K eps kept (eps of the dtype G
  arrives in), w = B 1 with B = V_r diag(sqrt(lambda_scale / lambda_r)) V_r^T, and w = 0 if none is
  kept. kappa: lambda_max / the smallest kept lambda.
- UPGrad and DualProj (:func:`upgrad_weights`, :func:`dualproj_weights`; Quinton & Rey,
  arXiv 2406.16232, Proposition 1; per-run :mod:`autoscale.methods.upgrad` and
  :mod:`autoscale.methods.dualproj`, whose projector solves the same problem with scipy's NNLS):
  v(u) = argmin_{v >= u} v^T G~ v with G~ = G / trace(G) (0 if trace(G) < norm_eps) + reg_eps I,
  w = sum_i v(e_i / K) (UPGrad) or v(1 / K) (DualProj). Solved by enumerating the 2^K active sets:
  for each set A, v_A = u_A and (G~ v)_F = 0 on the free set F (one K x K linear system), and the
  candidate that best satisfies the KKT conditions (v_F >= u_F, (G~ v)_A >= 0) is the unique
  minimiser (G~ is positive definite for reg_eps > 0). Fixed work: 2^K solves per preference
  vector. kappa: the condition number of G~, at most 1 + 1 / reg_eps.
- AutoScale has none here: its window solver (:func:`autoscale.methods.window.solve_window`; the
  paper's Eq. 2 and Table 4) is not a closed form (the Equal |g| / Equal |l| costs are a
  second-order cone program solved by Clarabel through cvxpy, Low cond. a non-convex multi-start
  search), and it runs once a window (every tau steps), not every step. Its per-step cost during
  exploration is its explorer's solve, which it makes itself, with its phase and window state:
  AutoScale runs go through their own ``weights``.
- CAGrad and Nash-MTL (:func:`host_weights`): iterative host solvers (SLSQP; a sequence of cvxpy
  problems warm-started from the previous step), and stateful (failure counts, Nash-MTL's warm
  start). The stack's losses and Gramians go to the host in one transfer, each run's own
  ``weights`` runs there, and the weights come back in one transfer. Identical to the per-run calls.

Everything else goes through each run's own ``weights`` (:func:`stacked_weights`): methods with state
(AutoScale's phases and windows, FAMO, DWA, GradNorm, GradVac, STCH), random draws (RLW, PCGrad),
learnable weights (UW), fixed weights, MGDA for K > 2 (Wolfe's active-set algorithm, no fixed
budget), UPGrad and DualProj with ``reg_eps = 0`` (G~ may be singular and the minimiser not unique),
and any K above :data:`MAX_TASKS`.

One deviation: MGDA with a ``"loss"`` or ``"loss+"`` normalisation raises on a negative loss; raising
would need a read of the device, so the batched solver returns NaN weights for that run instead
(the non-finite update then stops training at the trainer's next finiteness check).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from functools import reduce

import torch
from torch import Tensor

from autoscale.methods._common import check_choice
from autoscale.methods.alignedmtl import SCALE_MODES, AlignedMTL
from autoscale.methods.base import Weighting
from autoscale.methods.cagrad import CAGrad
from autoscale.methods.dualproj import DualProj
from autoscale.methods.imtlg import IMTLG
from autoscale.methods.mgda import MGDA, MGDAUB, NORMALIZATIONS
from autoscale.methods.nashmtl import NashMTL
from autoscale.methods.upgrad import UPGrad

# Sweeps of the Jacobi eigensolver. For K <= 8 the off-diagonal part is at rounding level
# (1e-16 of ||G||) after at most 7 sweeps on random, nearly collinear, clustered and rank-deficient
# Gramians; 10 leave a margin. Larger K converges more slowly, hence MAX_TASKS.
JACOBI_SWEEPS = 10
# The largest K that stacked_weights hands to a batched solver: the Jacobi budget above is checked
# up to it, and the active-set enumeration of UPGrad and DualProj solves 2^K systems per run.
MAX_TASKS = 8
# torchjd's IMTLGWeighting returns zeros below this |1^T G^+ d|.
_IMTLG_ZERO = 1e-12
# min_norm_point's default rtol: its optimality test, relative to max_i G'_ii.
_MGDA_RTOL = 1e-12

Solver = Callable[[Tensor, Tensor], Tensor]
"""(losses (n, K), Gramians (n, K, K)) -> weights (n, K)."""


def _float64(x: Tensor) -> Tensor:
    return x.detach().to(dtype=torch.float64)


# --------------------------------------------------------------------------------------------------
# Eigendecomposition without synchronisation
# --------------------------------------------------------------------------------------------------


def _round_robin(size: int, device: torch.device) -> Tensor:
    """(size - 1, size) partners: in round r, index j is paired with ``partners[r, j]`` (size even).

    Circle method: index 0 stays, the others rotate one place a round, and the index at place p is
    paired with the one at place size - 1 - p, so every pair meets exactly once in size - 1 rounds.
    Built on the device, as the index tensors of a copy from the host would be a synchronisation.
    """
    place = torch.arange(size, device=device)
    rounds = torch.arange(size - 1, device=device)[:, None]
    player = torch.where(place == 0, 0, 1 + (place - 1 + rounds) % (size - 1))
    return torch.empty_like(player).scatter_(1, player, player.flip(1))


def symmetric_eigh(a: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues (n, K), ascending, and orthonormal eigenvectors (columns of (n, K, K)) of
    symmetric matrices (n, K, K), by the cyclic Jacobi method, :data:`JACOBI_SWEEPS` sweeps.

    ``torch.linalg.eigh`` (like ``svd``, ``pinv`` and ``solve``) reads LAPACK's error code on the
    host, which on CUDA synchronises the device (their documentation says so); this does not.
    Rotation of the pair p < q: with zeta = (a_qq - a_pp) / (2 a_pq), t = sgn(zeta) /
    (|zeta| + sqrt(zeta^2 + 1)), c = 1 / sqrt(1 + t^2), s = t c, the rotation P (P_pp = P_qq = c,
    P_pq = s, P_qp = -s) gives (P^T A P)_pq = 0 (Golub & Van Loan, Matrix Computations, Sec. 8.5).
    A sweep rotates every pair once, in K - 1 rounds of K / 2 disjoint pairs (round robin; an odd K
    gets a zero row and column that no rotation touches), each round applied as one orthogonal
    matrix R: A <- R^T A R, V <- V R. Accuracy as LAPACK's: eigenvalues to about eps ||A||.
    """
    n, k, _ = a.shape
    size = k + k % 2
    a = torch.nn.functional.pad(a, (0, size - k, 0, size - k))
    vectors = torch.eye(size, dtype=a.dtype, device=a.device).expand(n, size, size)
    index = torch.arange(size, device=a.device)
    rounds = _round_robin(size, a.device)
    for _ in range(JACOBI_SWEEPS):
        for partner in rounds.unbind(0):
            low, high = torch.minimum(index, partner), torch.maximum(index, partner)
            diagonal = torch.diagonal(a, dim1=1, dim2=2)
            zeta = diagonal[:, high] - diagonal[:, low]
            off = 2 * a.flatten(1)[:, low * size + high]
            # t = sgn(zeta) / (|zeta| + sqrt(zeta^2 + 1)) multiplied through by |2 a_pq|, which needs
            # no division by a_pq; a_pq = 0 (converged, or the padding) gives t = 0, no rotation.
            denominator = zeta.abs() + torch.hypot(zeta, off)
            t = torch.where(denominator > 0, torch.where(zeta >= 0, off, -off) / denominator, 0.0)
            c = torch.rsqrt(1 + t * t)
            s = torch.where(index == low, t * c, -t * c)
            rotation = torch.diag_embed(c).scatter(2, partner.view(1, size, 1).expand(n, size, 1), s.unsqueeze(-1))
            a = rotation.mT @ a @ rotation
            vectors = vectors @ rotation
    values, order = torch.diagonal(a, dim1=1, dim2=2)[:, :k].sort(dim=-1)
    return values, vectors[:, :k, :k].gather(2, order.unsqueeze(1).expand(n, k, k))


# --------------------------------------------------------------------------------------------------
# Closed forms
# --------------------------------------------------------------------------------------------------


def imtlg_weights(gramians: Tensor) -> Tensor:
    """IMTL-G weights (n, K): alpha = G^+ d / (1^T G^+ d), d = sqrt(diag G); 0 if |1^T G^+ d| < 1e-12.

    See the module docstring; G^+ drops the singular values at most K eps_64 sigma_max, as
    ``torch.linalg.pinv`` (float64) does in the per-run method.
    """
    g = _float64(gramians)
    k = g.shape[-1]
    values, vectors = symmetric_eigh((g + g.mT) / 2)
    singular = values.abs()
    keep = singular > k * torch.finfo(torch.float64).eps * singular.amax(-1, keepdim=True)
    inverse = torch.where(keep, 1.0 / torch.where(keep, values, 1.0), 0.0)
    d = torch.sqrt(torch.diagonal(g, dim1=-2, dim2=-1))
    v = (vectors @ (inverse * (vectors.mT @ d.unsqueeze(-1)).squeeze(-1)).unsqueeze(-1)).squeeze(-1)
    total = v.sum(-1, keepdim=True)
    return torch.where(total.abs() < _IMTLG_ZERO, 0.0, v / total).to(gramians.dtype)


def mgda2_weights(gramians: Tensor, losses: Tensor, normalization: str = "loss+") -> Tensor:
    """MGDA weights (n, 2) for two tasks: the minimum-norm point of the segment between the
    normalised gradients, with the per-run solver's vertex test (module docstring).

    ``normalization`` as :class:`~autoscale.methods.mgda.MGDA`; a zero normaliser is replaced by 1,
    and a run with a negative one gets NaN weights (the per-run method raises).
    """
    check_choice("normalization", normalization, NORMALIZATIONS)
    if gramians.shape[-2:] != (2, 2):
        raise ValueError(f"mgda2_weights needs (n, 2, 2) Gramians, got shape {tuple(gramians.shape)}")
    g, losses = _float64(gramians), _float64(losses)
    norms = torch.sqrt(torch.diagonal(g, dim1=-2, dim2=-1).clamp(min=0.0))
    normalizer = {
        "none": torch.ones_like(losses),
        "l2": norms,
        "loss": losses,
        "loss+": losses * norms,
    }[normalization]
    invalid = (normalizer < 0).any(-1, keepdim=True)
    normalizer = torch.where(normalizer > 0, normalizer, 1.0)
    g = g / (normalizer.unsqueeze(-1) * normalizer.unsqueeze(-2))
    diagonal = torch.diagonal(g, dim1=-2, dim2=-1)
    tol = _MGDA_RTOL * diagonal.amax(-1).clamp(min=torch.finfo(torch.float64).tiny)
    second = diagonal[:, 1] < diagonal[:, 0]  # Wolfe starts at the shorter gradient, task 1 on a tie
    g_ii = torch.where(second, g[:, 1, 1], g[:, 0, 0])
    g_oo = torch.where(second, g[:, 0, 0], g[:, 1, 1])
    g_oi = torch.where(second, g[:, 0, 1], g[:, 1, 0])
    g_io = torch.where(second, g[:, 1, 0], g[:, 0, 1])
    vertex = g_oi >= g_ii - tol
    w_o = torch.where(vertex, 0.0, (g_ii - g_oi) / (g_ii - g_oi - g_io + g_oo))
    w_i = 1.0 - w_o
    w = torch.stack([torch.where(second, w_o, w_i), torch.where(second, w_i, w_o)], dim=-1)
    return torch.where(invalid, torch.nan, w).to(gramians.dtype)


def alignedmtl_weights(gramians: Tensor, scale_mode: str = "min") -> Tensor:
    """Aligned-MTL weights (n, K): w = B 1, B = sqrt(lambda_scale) V_r diag(lambda_r)^{-1/2} V_r^T
    over the eigenvalues above lambda_max K eps (eps of ``gramians.dtype``); 0 if none is kept.

    ``scale_mode`` as :class:`~autoscale.methods.alignedmtl.AlignedMTL`: the smallest kept eigenvalue,
    the median (the lower middle one for an even count) or the mean (``"rmse"``).
    """
    check_choice("scale_mode", scale_mode, SCALE_MODES)
    eps = torch.finfo(gramians.dtype).eps
    g = _float64(gramians)
    k = g.shape[-1]
    lower = g.tril()
    # torch.linalg.eigh reads only the lower triangle.
    values, vectors = symmetric_eigh(lower + lower.mT - torch.diag_embed(torch.diagonal(g, dim1=-2, dim2=-1)))
    keep = values > values[:, -1:] * k * eps
    count = keep.sum(-1, keepdim=True)
    # The kept eigenvalues are the top ``count`` of the ascending ones.
    if scale_mode == "rmse":
        scale = torch.where(keep, values, 0.0).sum(-1, keepdim=True) / count.clamp(min=1)
    else:
        place = k - count + ((count - 1).div(2, rounding_mode="floor") if scale_mode == "median" else 0)
        scale = values.gather(-1, place.clamp(0, k - 1))
    factor = torch.where(keep, torch.sqrt(scale / torch.where(keep, values, 1.0)), 0.0)
    w = (vectors @ (factor * vectors.sum(-2)).unsqueeze(-1)).squeeze(-1)
    return w.to(gramians.dtype)


# --------------------------------------------------------------------------------------------------
# Dual-cone projections: exact active-set enumeration
# --------------------------------------------------------------------------------------------------


def _dual_cone_weights(gramians: Tensor, preferences: Tensor, norm_eps: float, reg_eps: float) -> Tensor:
    """sum_p v(u_p) over the columns u_p of ``preferences`` (K, P), v(u) = argmin_{v >= u} v^T G~ v."""
    g = _float64(gramians)
    n, k, _ = g.shape
    eye = torch.eye(k, dtype=g.dtype, device=g.device)
    trace = torch.diagonal(g, dim1=-2, dim2=-1).sum(-1)[:, None, None]
    g = torch.where(trace < norm_eps, 0.0, g / trace) + reg_eps * eye
    g = (g + g.mT) / 2
    subsets = torch.arange(2**k, device=g.device)
    active = ((subsets[:, None] >> torch.arange(k, device=g.device)) & 1).bool()[:, :, None]  # (S, K, 1)
    system = torch.where(active, eye, g[:, None])  # rows of A: v_i = u_i; free rows: (G~ v)_i = 0
    rhs = torch.where(active, preferences, 0.0).expand(n, -1, -1, -1)
    # solve_ex without its error check: the check reads the device. G~ is positive definite, so
    # every system is regular (its free block is a principal submatrix of G~).
    v = torch.linalg.solve_ex(system, rhs, check_errors=False).result  # (n, S, K, P)
    multiplier = g[:, None] @ v  # (G~ v)_i, half the multiplier of constraint i
    violation = torch.where(active, (-multiplier).clamp(min=0.0), (preferences - v).clamp(min=0.0)).amax(-2)
    violation = torch.where(violation.isnan(), torch.inf, violation)
    best = violation.argmin(1)  # (n, P)
    chosen = v.gather(1, best[:, None, None, :].expand(n, 1, k, -1)).squeeze(1)
    return chosen.sum(-1).to(gramians.dtype)


def upgrad_weights(gramians: Tensor, norm_eps: float = 1e-4, reg_eps: float = 1e-4) -> Tensor:
    """UPGrad weights (n, K): w = sum_i v(e_i / K), v(u) = argmin_{v >= u} v^T G~ v (module docstring).

    ``norm_eps`` and ``reg_eps`` as :class:`~autoscale.methods.upgrad.UPGrad`; ``reg_eps`` must be > 0.
    """
    if reg_eps <= 0:
        raise ValueError(f"the batched projection needs reg_eps > 0, got {reg_eps!r}")
    k = gramians.shape[-1]
    preferences = torch.eye(k, dtype=torch.float64, device=gramians.device) / k
    return _dual_cone_weights(gramians, preferences, norm_eps, reg_eps)


def dualproj_weights(gramians: Tensor, norm_eps: float = 1e-4, reg_eps: float = 1e-4) -> Tensor:
    """DualProj weights (n, K): w = v(1 / K), v(u) = argmin_{v >= u} v^T G~ v (module docstring).

    ``norm_eps`` and ``reg_eps`` as :class:`~autoscale.methods.dualproj.DualProj`; ``reg_eps`` must be > 0.
    """
    if reg_eps <= 0:
        raise ValueError(f"the batched projection needs reg_eps > 0, got {reg_eps!r}")
    k = gramians.shape[-1]
    preferences = torch.full((k, 1), 1 / k, dtype=torch.float64, device=gramians.device)
    return _dual_cone_weights(gramians, preferences, norm_eps, reg_eps)


# --------------------------------------------------------------------------------------------------
# Host solvers, one transfer each way
# --------------------------------------------------------------------------------------------------


def host_weights(methods: Sequence[Weighting], losses: Tensor, gramians: Sequence[Tensor | None]) -> Tensor:
    """Weights (n, K) from each run's own ``weights``, run on the host: the losses (n, K) and the
    Gramians (K, K) (None where a run takes none this step) go to the host in one transfer, and the
    weights come back to the device of ``losses``, in its dtype, in one transfer.

    Each method sees its inputs in their own dtypes, so its result and its state are those of the
    per-run call. On CUDA the copy to the host is the step's one synchronisation; the copy back is
    asynchronous.
    """
    present = [g for g in gramians if g is not None]
    dtype = reduce(torch.promote_types, [g.dtype for g in present], losses.dtype)
    n, k = losses.shape
    packed = torch.cat([losses.to(dtype).flatten(), *(g.to(dtype).flatten() for g in present)])
    host = packed.cpu()
    host_losses = host[: n * k].view(n, k).to(losses.dtype)
    host_gramians = iter(host[n * k :].view(-1, k, k).unbind(0))
    rows = [
        method.weights(host_losses[m], None if g is None else next(host_gramians).to(g.dtype))
        for m, (method, g) in enumerate(zip(methods, gramians, strict=True))
    ]
    weights = torch.stack(rows)
    if losses.is_cuda:
        # A copy from pageable memory waits for the stream (a second synchronisation); one from
        # pinned memory is queued like a kernel.
        return weights.pin_memory().to(losses, non_blocking=True)
    return weights.to(losses)


# --------------------------------------------------------------------------------------------------
# Dispatcher
# --------------------------------------------------------------------------------------------------

# Methods whose weights come from an iterative host solver: routed to host_weights.
HOST_SOLVED: tuple[type[Weighting], ...] = (CAGrad, NashMTL)


def batched_solver(method: Weighting) -> tuple[Hashable, Solver] | None:
    """The batched solver of ``method`` and a key (runs with equal keys are solved together), or
    None if its weights must come from its own ``weights``.

    Only stateless methods of exactly these classes (not subclasses, which may change the
    computation) with supported options qualify (module docstring).
    """
    k = method.num_tasks
    kind = type(method)
    if k > MAX_TASKS:
        return None
    if kind is IMTLG:
        return ("imtlg",), lambda losses, gramians: imtlg_weights(gramians)
    if kind in (MGDA, MGDAUB) and k == 2:
        normalization = method.normalization
        return ("mgda", normalization), lambda losses, gramians: mgda2_weights(gramians, losses, normalization)
    if kind is AlignedMTL:
        mode = method.scale_mode
        return ("alignedmtl", mode), lambda losses, gramians: alignedmtl_weights(gramians, mode)
    if kind in (UPGrad, DualProj):
        projector = method.solver.projector
        norm_eps, reg_eps = projector.norm_eps, projector.reg_eps
        if reg_eps <= 0:
            return None
        solve = upgrad_weights if kind is UPGrad else dualproj_weights
        return (kind.__name__, norm_eps, reg_eps), lambda losses, gramians: solve(gramians, norm_eps, reg_eps)
    return None


def stacked_weights(methods: Sequence[Weighting], losses: Tensor, gramians: Sequence[Tensor | None]) -> Tensor:
    """The weights (n, K) of a stack of n runs, in the dtype and on the device of ``losses`` (n, K);
    row m is what ``methods[m].weights(losses[m], gramians[m])`` returns (to the module's tolerance
    where a batched solver computes it).

    Runs with a batched solver (:func:`batched_solver`) are solved together, one call per solver
    and options; CAGrad and Nash-MTL runs go through :func:`host_weights` together; every other run
    calls its own ``weights``, so that methods with state advance it exactly as when run alone. The
    batched runs' inputs are checked as ``weights`` checks them (``check_inputs``: shapes, and on the
    CPU finiteness), and ``gramian_eps`` is set as ``weights`` sets it.
    """
    if losses.shape[0] != len(methods) or len(gramians) != len(methods):
        raise ValueError(
            f"{len(methods)} methods need losses (n, K) and Gramians for n = {len(methods)} runs; got "
            f"losses of shape {tuple(losses.shape)} and {len(gramians)} Gramians"
        )
    rows: list[Tensor | None] = [None] * len(methods)
    groups: dict[Hashable, tuple[Solver, list[int]]] = {}
    host: list[int] = []
    for m, method in enumerate(methods):
        route = batched_solver(method)
        if route is not None:
            method.check_inputs(losses[m], gramians[m])
            groups.setdefault(route[0], (route[1], []))[1].append(m)
        elif type(method) in HOST_SOLVED:
            host.append(m)
        else:
            rows[m] = method.weights(losses[m], gramians[m])
    for solve, members in groups.values():
        stacked = torch.stack([gramians[m] for m in members])
        solved = solve(torch.stack([losses[m] for m in members]), stacked).to(losses.dtype)
        for m, row in zip(members, solved.unbind(0), strict=True):
            rows[m] = row
            methods[m].gramian_eps = float(torch.finfo(stacked.dtype).eps)
    if host:
        solved = host_weights(
            [methods[m] for m in host], torch.stack([losses[m] for m in host]), [gramians[m] for m in host]
        )
        for m, row in zip(host, solved.unbind(0), strict=True):
            rows[m] = row
    return torch.stack(rows)
