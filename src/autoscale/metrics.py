"""Multi-task optimisation (MTO) metrics (AutoScale, arXiv 2508.13979, Appendix C).

Gradient metrics are functions of the task-gradient Gramian G (K x K, G_ij = g_i · g_j, see
:mod:`autoscale.gramian`) and, where an update direction or a scalarisation enters, of task
weights w (K,). Loss metrics are functions of the task losses l (K,). Every function also accepts
a leading stack of steps: G of shape (T, K, K) with w of shape (K,) or (T, K), losses of shape
(T, K); outputs then carry the leading T. Nothing here leaves the device.

Metrics of a linear scalarisation (LS) with weights w are the metrics of the weighted gradients
w_i g_i, whose Gramian is W G W (:func:`weighted_gramian`). Positive weights leave cosines
unchanged but change magnitudes, GMS and the condition number; this is the paper's first
finding.

Undefined values (documented per function) are returned as nan or inf, never raised:

- A metric that needs the direction of a zero-norm gradient (G_ii <= 0: cosines, projections)
  or relates its magnitude to another gradient's (GMS, magnitude ratio) is undefined: nan. For GMS
  and the magnitude ratio the formulas would give 0 for one zero and one non-zero gradient; nan
  marks that the task had no gradient at this step instead of silently dragging averages down.
  The relative gradient magnitude of a zero gradient stays 0 (nan only if all are zero).
- A condition number of a rank-deficient gradient matrix (including all-zero) is inf.
- Round-off can make diagonal entries or eigenvalues of a Gramian slightly negative; they are
  clamped at 0 before any square root. Cosines are clamped to [-1, 1].
- Divisions of losses (ratios, relative forms) follow IEEE arithmetic: x/0 gives inf or nan.

Loss metrics over time are meant on window means (:func:`windowed_mean`): the paper computes
loss-based metrics over windows of steps to smooth mini-batch noise, as DWA (Liu et al. 2019)
uses epoch-averaged losses. So ``loss_descending_rate(m[:-1], m[1:])`` with ``m`` the window means
(W, K) gives the rate between consecutive windows, (W - 1, K).
"""

from collections.abc import Mapping

import torch
from torch import Tensor

_NAN = float("nan")


def _as_float(x: Tensor | float | list) -> Tensor:
    """``x`` as a tensor; integer inputs are promoted to the default float dtype."""
    t = torch.as_tensor(x)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


def _gram_and_weights(gramian: Tensor, w: Tensor | None) -> tuple[Tensor, Tensor | None]:
    g = _as_float(gramian)
    if g.ndim < 2 or g.shape[-1] != g.shape[-2]:
        raise ValueError(f"gramian must be (K, K) or (..., K, K), got shape {tuple(g.shape)}")
    if w is None:
        return g, None
    w = torch.as_tensor(w, dtype=g.dtype, device=g.device)
    if w.ndim == 0 or w.shape[-1] != g.shape[-1]:
        raise ValueError(f"weights must have K = {g.shape[-1]} entries on the last axis, got {tuple(w.shape)}")
    return g, w


def _sq_norms(gramian: Tensor) -> Tensor:
    """|g_i|^2 = G_ii, clamped at 0 against round-off; shape (..., K)."""
    return gramian.diagonal(dim1=-2, dim2=-1).clamp_min(0)


def _pairwise_defined(sq_norms: Tensor) -> Tensor:
    nonzero = sq_norms > 0
    return nonzero.unsqueeze(-1) & nonzero.unsqueeze(-2)


def _matvec(gramian: Tensor, w: Tensor) -> Tensor:
    """(G w)_i = g_i · sum_j w_j g_j, broadcasting w (K,) or (..., K) against G (..., K, K)."""
    return (gramian @ w.unsqueeze(-1)).squeeze(-1)


def weighted_gramian(gramian: Tensor, w: Tensor) -> Tensor:
    """Gramian of the weighted gradients w_i g_i: (W G W)_ij = w_i w_j G_ij, shape of G."""
    g, w = _gram_and_weights(gramian, w)
    return g * w.unsqueeze(-1) * w.unsqueeze(-2)


def magnitude_similarity(gramian: Tensor) -> Tensor:
    """Pairwise gradient magnitude similarity (GMS), (..., K, K).

    GMS(g_i, g_j) = 2 |g_i| |g_j| / (|g_i|^2 + |g_j|^2) (Yu et al. 2020, "Gradient Surgery for
    Multi-Task Learning" (PCGrad), Definition 2). It is 1 for equal norms and tends to 0 as the
    norms diverge; it is invariant to a common rescaling of all gradients. Undefined (nan) when
    either gradient has zero norm; the diagonal is 1 otherwise. Clamped to [0, 1], which float32
    round-off can otherwise leave by one ulp.
    """
    g, _ = _gram_and_weights(gramian, None)
    sq = _sq_norms(g)
    norms = sq.sqrt()
    gms = (2 * norms.unsqueeze(-1) * norms.unsqueeze(-2) / (sq.unsqueeze(-1) + sq.unsqueeze(-2))).clamp(0.0, 1.0)
    return torch.where(_pairwise_defined(sq), gms, _NAN)


def magnitude_ratio(gramian: Tensor) -> Tensor:
    """Pairwise min(|g_i|, |g_j|) / max(|g_i|, |g_j|), (..., K, K), in [0, 1].

    GMS is a monotone function of it: with r the ratio, GMS = 2 r / (1 + r^2). Undefined (nan)
    when either gradient has zero norm.
    """
    g, _ = _gram_and_weights(gramian, None)
    sq = _sq_norms(g)
    ni, nj = sq.sqrt().unsqueeze(-1), sq.sqrt().unsqueeze(-2)
    return torch.where(_pairwise_defined(sq), torch.minimum(ni, nj) / torch.maximum(ni, nj), _NAN)


def cosine_similarity(gramian: Tensor) -> Tensor:
    """Pairwise cosine similarity cos(g_i, g_j) = G_ij / (|g_i| |g_j|), (..., K, K), in [-1, 1].

    Negative values are the "conflicting gradients" of Yu et al. 2020 (PCGrad, Definition 1).
    Invariant to any positive per-task scaling w_i g_i, hence unchanged by LS weights. Undefined
    (nan) when either gradient has zero norm.
    """
    g, _ = _gram_and_weights(gramian, None)
    sq = _sq_norms(g)
    norms = sq.sqrt()
    cos = (g / (norms.unsqueeze(-1) * norms.unsqueeze(-2))).clamp(-1, 1)
    return torch.where(_pairwise_defined(sq), cos, _NAN)


def cosine_to_update(gramian: Tensor, w: Tensor) -> Tensor:
    """cos(g_i, u) with the update u = sum_j w_j g_j, (..., K).

    g_i · u = (G w)_i and |u|^2 = w^T G w (clamped at 0). Undefined (nan) when g_i = 0 or u = 0.
    Invariant to a positive rescaling of w.
    """
    g, w = _gram_and_weights(gramian, w)
    sq = _sq_norms(g)
    gw = _matvec(g, w)
    update_sq = (w * gw).sum(-1).clamp_min(0).unsqueeze(-1)
    cos = (gw / (sq.sqrt() * update_sq.sqrt())).clamp(-1, 1)
    return torch.where((sq > 0) & (update_sq > 0), cos, _NAN)


def cosine_to_mean(gramian: Tensor) -> Tensor:
    """cos(g_i, mean_j g_j), (..., K): :func:`cosine_to_update` with equal weights."""
    g, _ = _gram_and_weights(gramian, None)
    return cosine_to_update(g, torch.ones(g.shape[-1], dtype=g.dtype, device=g.device))


def projected_magnitude(gramian: Tensor, w: Tensor) -> Tensor:
    """Signed length of the update u = sum_j w_j g_j projected onto g_i: u · g_i / |g_i|, (..., K).

    Equals (G w)_i / sqrt(G_ii). Equal values for all tasks mean the update advances every task
    equally along its own gradient, the condition IMTL-G (Liu et al. 2021) imposes on unit
    gradients. Undefined (nan) when g_i = 0.
    """
    g, w = _gram_and_weights(gramian, w)
    sq = _sq_norms(g)
    return torch.where(sq > 0, _matvec(g, w) / sq.sqrt(), _NAN)


def condition_number(gramian: Tensor, w: Tensor | None = None) -> Tensor:
    """Condition number sigma_max / sigma_min of the gradient matrix [w_1 g_1 ... w_K g_K].

    Its singular values are the square roots of the eigenvalues of W G W, so the value is
    sqrt(lambda_max / lambda_min) (AutoScale "Low cond." cost and metric). Without
    weights it is the condition number of [g_1 ... g_K]. Returns a 0-d tensor, or (T,) for stacked
    Gramians, in G's dtype.

    Conventions: the K x K eigenproblem is solved in float64 (cheap) on the symmetrised matrix;
    eigenvalues are clamped at 0; a matrix with lambda_min <= K * eps_float64 * lambda_max
    (eigensolver round-off level, e.g. exactly parallel gradients) is rank-deficient and gives
    inf, as does the all-zero matrix (a zero gradient). The tolerance is relative to float64 on
    purpose: badly scaled but independent gradients, the case this metric is about, keep a finite
    value even from a float32 Gramian, whose own rounding then limits the accuracy of very large
    values. A Gramian with non-finite entries gives nan.
    """
    g, w = _gram_and_weights(gramian, w)
    if w is not None:
        g = weighted_gramian(g, w)
    num_tasks = g.shape[-1]
    finite = torch.isfinite(g).all(dim=-1).all(dim=-1)
    # eigvalsh may fail to converge on nan/inf input: solve a zero matrix there, report nan.
    sym = torch.where(finite[..., None, None], g, 0).to(torch.float64)
    eig = torch.linalg.eigvalsh((sym + sym.mT) / 2).clamp_min(0)
    lam_min, lam_max = eig[..., 0], eig[..., -1]
    singular = lam_min <= num_tasks * torch.finfo(torch.float64).eps * lam_max
    kappa = torch.where(singular, torch.inf, (lam_max / torch.where(singular, 1.0, lam_min)).sqrt())
    return torch.where(finite, kappa, _NAN).to(g.dtype)


def relative(beta: Tensor) -> Tensor:
    """Relative form of a per-task quantity: K beta_i / sum_j beta_j, (..., K); mean 1 over tasks.

    The normalisation GradNorm applies to inverse training rates (Chen et al. 2018, Sec. 3.1:
    r_i = L~_i / E_task[L~_j]).
    """
    b = _as_float(beta)
    return b.shape[-1] * b / b.sum(-1, keepdim=True)


def relative_gradient_magnitude(gramian: Tensor) -> Tensor:
    """relative(|g_i|) = K |g_i| / sum_j |g_j|, (..., K); nan if all gradients are zero."""
    g, _ = _gram_and_weights(gramian, None)
    return relative(_sq_norms(g).sqrt())


def inverse_training_rate(losses: Tensor, l0: Tensor) -> Tensor:
    """Inverse training rate L~_i(t) = l_i(t) / l_i(0), (..., K).

    Chen et al. 2018, "GradNorm", Sec. 3.1, where this ratio is called the "loss ratio" and
    described as the inverse training rate (smaller: the task trained faster). Its relative form,
    ``relative(inverse_training_rate(l, l0))``, is GradNorm's r_i(t). ``l0`` (K,)
    broadcasts against stacked losses (T, K).
    """
    return _as_float(losses) / _as_float(l0)


loss_ratio = inverse_training_rate
"""GradNorm's "loss ratio" L_i(t)/L_i(0) (Chen et al. 2018, Sec. 3.1): an alias of
:func:`inverse_training_rate`, not a separate metric."""


def relative_loss_scale(losses: Tensor) -> Tensor:
    """Share of each task in the total loss, l_i / sum_j l_j, (..., K); sums to 1.

    For LS with weights w pass the weighted losses w_i l_i. Meant for non-negative losses.
    """
    loss = _as_float(losses)
    return loss / loss.sum(-1, keepdim=True)


def improvement_ratio(l_prev: Tensor, l_cur: Tensor) -> Tensor:
    """Loss ratio between consecutive windows, l_i(cur) / l_i(prev), (..., K); < 1 means improving.

    This is the "relative descending rate" r_k(t-1) = L_k(t-1) / L_k(t-2) of Dynamic Weight
    Average (Liu et al. 2019, "End-to-End Multi-Task Learning with Attention"), where L are losses
    averaged over an epoch; here over a window (:func:`windowed_mean`).
    """
    return _as_float(l_cur) / _as_float(l_prev)


def loss_descending_rate(l_prev: Tensor, l_cur: Tensor) -> Tensor:
    """Relative loss decrease between consecutive windows, (l_prev - l_cur) / l_prev, (..., K).

    Equals 1 - :func:`improvement_ratio`, i.e. DWA's descending rate (Liu et al. 2019) shifted so
    that positive means the loss went down. The shift changes neither the spread across tasks nor
    the strength of any correlation with it (only the sign), so conclusions drawn with DWA's form
    carry over. Pass window means: ``loss_descending_rate(m[:-1], m[1:])`` for
    ``m = windowed_mean(losses, tau)``.
    """
    prev = _as_float(l_prev)
    return (prev - _as_float(l_cur)) / prev


def windowed_mean(x: Tensor, window: int) -> Tensor:
    """Means over disjoint consecutive windows of ``window`` steps: (T, ...) -> (T // window, ...).

    The windows are [0, tau), [tau, 2 tau), ... as in AutoScale's exploration phase; a trailing
    incomplete window is dropped so every mean covers exactly ``window`` steps.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    x = _as_float(x)
    n = x.shape[0] // window
    return x[: n * window].reshape(n, window, *x.shape[1:]).mean(1)


def loss_variance(window_losses: Tensor) -> Tensor:
    """Per-task variance of the losses over a window (tau, K) -> (K,); (T, tau, K) -> (T, K).

    Population variance (divisor tau), so a one-step window gives 0 rather than nan.
    """
    return _as_float(window_losses).var(dim=-2, correction=0)


def _mean_off_diagonal(pairwise: Tensor) -> Tensor:
    num_tasks = pairwise.shape[-1]
    upper = torch.triu_indices(num_tasks, num_tasks, offset=1, device=pairwise.device)
    return pairwise[..., upper[0], upper[1]].mean(-1)


def summarize_step(
    gramian: Tensor,
    losses: Tensor,
    l0: Tensor,
    w: Tensor | None = None,
) -> dict[str, float]:
    """Scalar per-step summaries logged by the metric study (two K x K eigenproblems, one host sync).

    ``w`` are the step's task weights (equal weights if None); "weighted" metrics are those
    of the weighted gradients w_i g_i and weighted losses w_i l_i, i.e. of what the step actually
    optimises. Keys:

    - ``gms`` / ``gms_raw``: mean pairwise GMS (i < j) of weighted / raw gradients.
    - ``cos``: mean pairwise cosine (weight-invariant for positive w).
    - ``cond`` / ``cond_raw``: condition number of [w_1 g_1 ...] / [g_1 ...].
    - ``itr_std``: std over tasks of relative(inverse training rate) (GradNorm's r_i).
    - ``rls_std`` / ``rls_std_raw``: std over tasks of the relative loss scale of w_i l_i / l_i.
    - ``rgm_std``: std over tasks of the relative magnitude of the weighted gradients.
    - per task i: ``weight_i``, ``loss_i``, ``grad_norm_i`` (raw |g_i|), ``itr_i`` (l_i/l_i(0)),
      ``cos_update_i`` (cos of g_i to the update sum_j w_j g_j).

    Stds are population stds over the K tasks. Undefined values follow the module conventions
    (nan, inf); with K = 1 the pairwise means are nan.
    """
    # Logging only: no gradient may flow back through the summaries.
    g, w = _gram_and_weights(_as_float(gramian).detach(), None if w is None else torch.as_tensor(w).detach())
    if g.ndim != 2:
        raise ValueError("summarize_step takes one step's Gramian (K, K)")
    if w is None:
        w = torch.ones(g.shape[-1], dtype=g.dtype, device=g.device)
    loss = _as_float(losses).detach().to(device=g.device, dtype=g.dtype)
    loss0 = _as_float(l0).detach().to(device=g.device, dtype=g.dtype)
    gw = weighted_gramian(g, w)
    itr = inverse_training_rate(loss, loss0)
    scalars = {
        "gms": _mean_off_diagonal(magnitude_similarity(gw)),
        "gms_raw": _mean_off_diagonal(magnitude_similarity(g)),
        "cos": _mean_off_diagonal(cosine_similarity(g)),
        "cond": condition_number(g, w),
        "cond_raw": condition_number(g),
        "itr_std": relative(itr).std(correction=0),
        "rls_std": relative_loss_scale(w * loss).std(correction=0),
        "rls_std_raw": relative_loss_scale(loss).std(correction=0),
        "rgm_std": relative_gradient_magnitude(gw).std(correction=0),
    }
    per_task = {
        "weight": w,
        "loss": loss,
        "grad_norm": _sq_norms(g).sqrt(),
        "itr": itr,
        "cos_update": cosine_to_update(g, w),
    }
    values = torch.cat([torch.stack(list(scalars.values())), *per_task.values()]).tolist()
    keys = list(scalars) + [f"{name}_{i}" for name in per_task for i in range(g.shape[-1])]
    return dict(zip(keys, values, strict=True))


def layer_conflict(gramians: Mapping[str, Tensor]) -> dict[str, float]:
    """Per layer, from its Gramian G^(l) over the layer's parameters only: ``layer_conflict/<l>``,
    the share of task pairs i < j whose gradients conflict (cos < 0, Yu et al. 2020), and
    ``layer_cos/<l>``, their mean cosine. Royer et al. (NeurIPS 2023, Sec. 5) measure gradient
    conflict per layer this way; with K = 1 or a zero gradient the values are nan."""
    out: dict[str, float] = {}
    for name, gramian in gramians.items():
        cos = cosine_similarity(_as_float(gramian).detach())
        k = cos.shape[-1]
        upper = torch.triu_indices(k, k, offset=1, device=cos.device)
        pairs = cos[upper[0], upper[1]]
        defined = bool(pairs.numel()) and bool(torch.isfinite(pairs).all())
        out[f"layer_conflict/{name}"] = float((pairs < 0).double().mean()) if defined else float("nan")
        out[f"layer_cos/{name}"] = float(pairs.mean()) if defined else float("nan")
    return out
