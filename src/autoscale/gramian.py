"""Per-task gradient Gramians G = J J^T (DESIGN.md §4, "Gramian-first training step").

With K task losses L_1..L_K and shared tensors theta (the shared parameters, or the shared
representation for MGDA-UB), the task Jacobian J (K x P) has rows g_i = dL_i/dtheta flattened over
all tensors, and the Gramian is G_ij = g_i · g_j. Every gradient-based weighting of this package and
every MTO metric of :mod:`autoscale.metrics` is a function of G, so a training step needs this
K x K matrix, never the gradients themselves. Because G is a sum over tensors,
G = sum_p J_p J_p^T, it is accumulated one shared tensor at a time.

Implementation choice: K reverse passes (``torch.autograd.grad`` per loss, graph retained) with
blockwise accumulation. Measured on this project's 2-core CPU (one thread, torch 2.14.1, float32,
median ms per Gramian, the forward excluded, shared machine so about +-10 %): "loop" is this
function, "naive" is :func:`naive_gramian`, "batched" one vmapped pass
``torch.autograd.grad(losses, inputs, grad_outputs=torch.eye(K), is_grads_batched=True)`` (what
``torchjd.autojac.jac`` does) with the same blockwise accumulation:

=====================================================  =========  =========  =========
shared encoder                                         loop       naive      batched
=====================================================  =========  =========  =========
LeNet-style CNN + BatchNorm, batch 256, K = 2 / 3 / 4  72/97/133  81/96/125  86/125/162
dilated conv net + BatchNorm, 8x3x64x128, K = 3        146        147        196
ResNet-18-style (width 16, dilated), 8x3x64x128, K=3   145        152        143
torchvision ResNet-18, 8x3x64x64, K = 2 / 4            271/609    429/900    264/537
=====================================================  =========  =========  =========

On CPU the batched pass saves autograd-engine overhead on deep, narrow graphs but loses on
activation-heavy convolutions and BatchNorm, whose vmap batching rules fall back to per-slice work
plus concatenation. Both are correct for all these models (BatchNorm in train mode included), so
speed decided: the loop wins or ties on the conv nets that dominate this project's CPU runs, is
within 10 % of the batched pass on ResNet-18, and has none of vmap's caveats (custom autograd
Functions without vmap support, ``retains_grad`` tensors). The batched pass is the candidate for
GPUs, where kernel-launch overhead dominates; it was not measured here. ``torchjd.autogram.Engine``
(torchjd 0.18.0) was also measured: it needs hooks on the modules before the forward (so it does
not fit a ``(losses, inputs)`` interface that also takes a representation tensor), it requires
``batch_dim=None`` with BatchNorm, and it was no faster (K = 3, CNN batch 64: 38 ms vs 25 ms for
naive; ResNet-18: 571 ms vs 559 ms).

Blockwise accumulation is also the more accurate one in float32: on torchvision ResNet-18
(11M parameters) the single (K x P)(P x K) product of :func:`naive_gramian` had a relative error
of 3.9e-3 against a float64 reference, the per-tensor sum 2.1e-4.
"""

from collections.abc import Iterable

import torch
from torch import Tensor


def _differentiable(inputs: Tensor | Iterable[Tensor]) -> tuple[Tensor, ...]:
    # A lone tensor (e.g. the representation) must not be iterated over its first dimension.
    # Tensors that do not require grad (frozen parameters) have zero gradient by definition,
    # and autograd.grad rejects them, so they are dropped.
    tensors = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    return tuple(t for t in tensors if t.requires_grad)


def _check_losses(losses: Tensor) -> None:
    if losses.ndim != 1:
        raise ValueError(f"losses must be a vector (K,), got shape {tuple(losses.shape)}")


def _result_dtype(losses: Tensor, inputs: tuple[Tensor, ...]) -> torch.dtype:
    dtype = inputs[0].dtype if inputs else losses.dtype
    for t in inputs[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def _task_gradients(losses: Tensor, inputs: tuple[Tensor, ...], retain_graph: bool) -> list[tuple[Tensor, ...]]:
    """One reverse pass per loss; entry i holds dL_i/dt for every t in ``inputs``.

    Tensors a loss does not reach get zeros (``materialize_grads``), so the parameters of one
    task's private branch, or a shared tensor one task ignores, contribute nothing to that row.
    The graph is retained for all passes but the last, where ``retain_graph`` decides.
    """
    num_tasks = losses.shape[0]
    return [
        torch.autograd.grad(
            losses[i],
            inputs,
            retain_graph=retain_graph or i < num_tasks - 1,
            allow_unused=True,
            materialize_grads=True,
        )
        for i in range(num_tasks)
    ]


def compute_gramian(losses: Tensor, inputs: Tensor | Iterable[Tensor], retain_graph: bool = True) -> Tensor:
    """Gramian G (K x K), G_ij = g_i · g_j with g_i = dL_i/d(inputs) flattened over all inputs.

    Args:
        losses: task losses (K,), still attached to the graph.
        inputs: the shared tensors: the shared parameters (a list or ``model.parameters()``), or
            the shared representation tensor (MGDA-UB). Tensors that do not require grad are
            skipped (zero gradient).
        retain_graph: keep the graph after the last pass, so that the training step can then
            back-propagate ``sum_i w_i L_i`` (default).

    Returns:
        G, detached, in the (promoted) dtype of ``inputs`` and on their device. Zeros if no input
        requires grad. No host synchronisation happens here.
    """
    _check_losses(losses)
    tensors = _differentiable(inputs)
    num_tasks = losses.shape[0]
    dtype = _result_dtype(losses, tensors)
    gramian = torch.zeros(num_tasks, num_tasks, dtype=dtype, device=losses.device)
    if not tensors:
        return gramian
    per_task = _task_gradients(losses, tensors, retain_graph)
    for block in zip(*per_task, strict=True):
        # J_p (K x P_p) of one shared tensor; only one block is materialised at a time.
        jac = torch.stack(block).reshape(num_tasks, -1).to(dtype)
        gramian.addmm_(jac, jac.T)
    return gramian


def task_jacobian(losses: Tensor, inputs: Tensor | Iterable[Tensor], retain_graph: bool = True) -> Tensor:
    """Task Jacobian J (K x P): row i is dL_i/d(inputs), flattened and concatenated in input order.

    Same arguments and conventions as :func:`compute_gramian`; P counts only inputs that require
    grad. Memory is K x P, so prefer :func:`compute_gramian` when only inner products are needed.
    """
    _check_losses(losses)
    tensors = _differentiable(inputs)
    dtype = _result_dtype(losses, tensors)
    if not tensors:
        return torch.zeros(losses.shape[0], 0, dtype=dtype, device=losses.device)
    per_task = _task_gradients(losses, tensors, retain_graph)
    return torch.stack([torch.cat([g.reshape(-1).to(dtype) for g in grads]) for grads in per_task])


def naive_gramian(losses: Tensor, inputs: Tensor | Iterable[Tensor], retain_graph: bool = True) -> Tensor:
    """Reference Gramian: K backward passes, gradients flattened and concatenated, then J J^T.

    This is the common baseline (LibMTL-style: one full gradient vector per task, then one
    matrix product), used as the test reference and by the step-time benchmark. It is
    deliberately self-contained, so that optimising :func:`compute_gramian` never changes the
    baseline. Same arguments and return conventions as :func:`compute_gramian`.
    """
    _check_losses(losses)
    tensors = _differentiable(inputs)
    num_tasks = losses.shape[0]
    dtype = _result_dtype(losses, tensors)
    if not tensors:
        return torch.zeros(num_tasks, num_tasks, dtype=dtype, device=losses.device)
    rows = []
    for i in range(num_tasks):
        grads = torch.autograd.grad(
            losses[i],
            tensors,
            retain_graph=retain_graph or i < num_tasks - 1,
            allow_unused=True,
            materialize_grads=True,
        )
        rows.append(torch.cat([g.reshape(-1).to(dtype) for g in grads]))
    jac = torch.stack(rows)
    return jac @ jac.T
