"""Per-task gradient Gramians G = J J^T, the input of every Gramian method and of the MTO metrics.

With K task losses L_1..L_K and shared tensors theta (the shared parameters, or the shared
representation for MGDA-UB), the task Jacobian J (K x P) has rows g_i = dL_i/dtheta flattened over
all tensors, and the Gramian is G_ij = g_i · g_j. Every gradient-based weighting of this package and
every MTO metric of :mod:`autoscale.metrics` is a function of G, so a training step needs this
K x K matrix, never the gradients themselves. Because G is a sum over tensors,
G = sum_p J_p J_p^T, it is accumulated one shared tensor at a time.

Two entry points:

- :func:`compute_gramian` (and :func:`task_jacobian`, :func:`naive_gramian`): the Gramian of any
  losses over any tensors, by K reverse passes; :func:`gramians` also gives, from the same passes,
  the Gramians of groups of those tensors (an encoder layer's parameters: the logged per-layer
  gradient conflict).
- :class:`SplitGradients`: the training step's Gramian (:class:`autoscale.training.step.TrainStep`). It
  splits the backward at the shared representation z: each task's loss is back-propagated through
  its own head once (all K together cost one backward of the heads), then each task's dL_i/dz
  through the encoder, and the update of sum_i w_i L_i is assembled from those per-task gradients
  instead of another backward pass. An exact Gramian step costs F + B_heads + K·B_encoder, below
  the (F + K·B) floor of K full backward passes; cheap Gramians (:class:`GramianMode`: the last
  encoder layer, or the representation) cost about F + B.

Implementation choice: K reverse passes (``torch.autograd.grad`` per task), not one vmapped pass
(``is_grads_batched=True``, what ``torchjd.autojac.jac`` does). On the CPU the batched pass lost on
every benchmark model (vmap's batching rules for convolutions and BatchNorm fall back to per-slice
work plus concatenation), and K passes have none of vmap's caveats (custom autograd Functions
without vmap support, ``retains_grad`` tensors). ``python -m autoscale.bench`` times both, and the
naive product, on each benchmark model ("gramian: ..." rows), so the choice can be re-checked on
any device. ``torchjd.autogram.Engine`` does not fit here: it needs hooks on the modules before the
forward pass (this interface takes ``(losses, inputs)``, inputs possibly a representation tensor)
and ``batch_dim=None`` with BatchNorm.

Blockwise accumulation (one addmm per parameter tensor) is also the more accurate one in float32: on
torchvision ResNet-18 (11M parameters) the single (K x P)(P x K) product of :func:`naive_gramian` had
a relative error of 3.9e-3 against a float64 reference, the per-tensor sum 2.1e-4.
:class:`SplitGradients` writes each task's gradients once into a row of a flat (K, P) buffer and
accumulates per tensor over column views of it, so no per-tensor copies are made, and w^T J gives
the whole encoder update in one product, handed to ``.grad`` as views.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn


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


def _accumulate_blocks(per_task: Sequence[Sequence[Tensor]], indices: Iterable[int], gramian: Tensor) -> Tensor:
    """Add J_p J_p^T to ``gramian`` for each tensor index p in ``indices``, in that order, where
    J_p (K x P_p) stacks the K tasks' gradients of tensor p; one block is materialised at a time."""
    for p in indices:
        jac = torch.stack([grads[p] for grads in per_task]).reshape(len(per_task), -1).to(gramian.dtype)
        gramian.addmm_(jac, jac.T)
    return gramian


def gramians(
    losses: Tensor,
    inputs: Tensor | Iterable[Tensor],
    groups: Mapping[str, Sequence[Tensor]] | None = None,
    retain_graph: bool = True,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The Gramian over ``inputs`` and, from the same K reverse passes, one Gramian per group of
    ``groups`` (each a subset of ``inputs``, e.g. an encoder layer's parameters): G^(l)_ij =
    g_i^(l) · g_j^(l) with g_i^(l) the task gradient restricted to the group's tensors.

    Arguments and return conventions as :func:`compute_gramian` (tensors that do not require grad are
    skipped); each group's Gramian is accumulated in the group's own tensor order, so it equals the
    group's Gramian computed alone. A group tensor that is not among ``inputs`` raises a ValueError.
    """
    _check_losses(losses)
    tensors = _differentiable(inputs)
    num_tasks = losses.shape[0]
    index = {id(t): i for i, t in enumerate(tensors)}
    members: dict[str, list[int]] = {}
    for name, group in (groups or {}).items():
        missing = [t for t in group if t.requires_grad and id(t) not in index]
        if missing:
            raise ValueError(f"group {name!r} has {len(missing)} tensor(s) that are not among the inputs")
        members[name] = [index[id(t)] for t in group if t.requires_grad]

    def zeros(indices: Sequence[int]) -> Tensor:
        dtype = _result_dtype(losses, tuple(tensors[i] for i in indices))
        return torch.zeros(num_tasks, num_tasks, dtype=dtype, device=losses.device)

    per_task = _task_gradients(losses, tensors, retain_graph) if tensors else []
    everything = range(len(tensors))
    total = _accumulate_blocks(per_task, everything, zeros(everything))
    return total, {name: _accumulate_blocks(per_task, ix, zeros(ix)) for name, ix in members.items()}


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
    return gramians(losses, inputs, retain_graph=retain_graph)[0]


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


# ---- the training step's Gramian: split at the shared representation -------------------------------

GRAMIAN_SOURCES = ("exact", "last_layer", "representation")
_EVERY = re.compile(r"every:([1-9][0-9]*)")


@dataclass(frozen=True)
class GramianMode:
    """What a method's Gramian is taken over (``source``) and how often it is refreshed (``every``).

    Config strings (``RunConfig.gramian``): ``"exact"`` (all shared parameters, every step),
    ``"last_layer"`` (the parameters of :func:`last_layer_parameters` only), ``"representation"``
    (the shared representation z, summed over the batch, as MGDA-UB), ``"every:s"`` (exact on steps
    t with t % s == 0; the last computed Gramian is reused on the steps in between).
    """

    source: str = "exact"
    every: int = 1


def parse_gramian_mode(mode: str) -> GramianMode:
    """The :class:`GramianMode` of a config string; a ValueError lists the valid strings."""
    if mode in GRAMIAN_SOURCES:
        return GramianMode(source=mode)
    match = _EVERY.fullmatch(mode) if isinstance(mode, str) else None
    if match is None:
        valid = ", ".join(repr(m) for m in (*GRAMIAN_SOURCES, "every:<s>"))
        raise ValueError(f"unknown gramian mode {mode!r}; valid: {valid} (s a positive integer, e.g. 'every:4')")
    return GramianMode(every=int(match.group(1)))


_WEIGHT_LAYERS = (nn.Linear, nn.modules.conv._ConvNd)


def last_layer_parameters(encoder: nn.Module) -> list[nn.Parameter]:
    """Trainable parameters of the encoder's last parametrised layer.

    The last ``nn.Linear`` / ``nn.Conv*`` module in registration order, together with the parameters
    of every module registered after it (its normalisation layer). This relies on registration order
    being forward order, true for this package's encoders: MultiLeNet → the ``Linear(320, 50)``;
    the small dense encoder → the fusing 1x1 conv and its BatchNorm; the dilated ResNets → the last
    block's last conv and BatchNorm.
    """
    modules = list(encoder.modules())
    last = max((i for i, m in enumerate(modules) if isinstance(m, _WEIGHT_LAYERS)), default=None)
    if last is None:
        raise ValueError(f"{type(encoder).__name__} has no Linear or Conv layer")
    return [p for m in modules[last:] for p in m.parameters(recurse=False) if p.requires_grad]


def _accumulate_grad(param: Tensor, grad: Tensor) -> None:
    """``param.grad += grad`` with the semantics of ``backward`` (a fresh tensor if None)."""
    param.grad = grad if param.grad is None else param.grad + grad


class SplitGradients:
    """Per-task gradients of a hard-sharing model, split at its shared representation z.

    For L_i = h_i(z), z = f(x; θ): one backward of each L_i through its own head gives
    dz_i = dL_i/dz and the head's gradients, so the K head backward passes together cost one
    backward through all heads (the losses must be the separate per-task tensors, not entries of
    a stacked vector: a stack routes every backward through every head). Then, by the chain rule,

    - the Gramian over the representation is G_ij = <dz_i, dz_j> (no encoder pass at all);
    - the task gradients over encoder parameters θ are g_i = J_f^T dz_i, one encoder backward each
      (:meth:`parameter_gramian`), rows of the Jacobian J (K x P) written into one flat buffer;
    - the update of ``sum_i w_i L_i`` is w_i · (head grads of i) for the heads, and for the
      encoder either w^T J when J over all encoder parameters is kept (no backward at all), or one
      encoder backward of z with the cotangent sum_i w_i dz_i (:meth:`backward`).

    An exact Gramian step therefore costs F + B_heads + K·B_encoder <= F + K·B, and a
    representation Gramian step F + B, where F and B are a forward and a backward of the model.
    The graph is retained throughout, so ``method.objective(...).backward()`` still works after
    a Gramian was taken (methods whose objective is not sum_i w_i L_i, e.g. UW).
    """

    def __init__(
        self, task_losses: Sequence[Tensor], representation: Tensor, head_parameters: Sequence[Sequence[Tensor]]
    ) -> None:
        if len(task_losses) != len(head_parameters):
            raise ValueError(f"{len(task_losses)} task losses but {len(head_parameters)} heads")
        self.representation = representation
        self.head_parameters = [[p for p in params if p.requires_grad] for params in head_parameters]
        self.rep_grads: list[Tensor] = []
        self.head_grads: list[tuple[Tensor, ...]] = []
        for loss, params in zip(task_losses, self.head_parameters, strict=True):
            grads = torch.autograd.grad(
                loss, (representation, *params), retain_graph=True, allow_unused=True, materialize_grads=True
            )
            self.rep_grads.append(grads[0])
            self.head_grads.append(grads[1:])
        self._jacobian: tuple[list[Tensor], Tensor, list[tuple[int, int]]] | None = None

    @property
    def num_tasks(self) -> int:
        return len(self.rep_grads)

    def representation_gramian(self) -> Tensor:
        """G_ij = <dL_i/dz, dL_j/dz> over all entries of z (the MGDA-UB Gramian), detached."""
        rows = torch.stack(self.rep_grads).reshape(self.num_tasks, -1)
        return rows @ rows.T

    def parameter_gramian(self, params: Sequence[Tensor], keep: bool = False) -> Tensor:
        """G over encoder parameters ``params`` (K encoder backward passes), detached.

        With ``keep`` the Jacobian is kept for :meth:`backward`, which then needs no encoder pass;
        pass all trainable encoder parameters then (the others would get no gradient).
        """
        params = [p for p in params if p.requires_grad]
        sizes = [p.numel() for p in params]
        dtype = _result_dtype(self.representation, tuple(params))
        jac = torch.empty(self.num_tasks, sum(sizes), dtype=dtype, device=self.representation.device)
        for i, cotangent in enumerate(self.rep_grads):
            grads = torch.autograd.grad(
                self.representation, params, cotangent, retain_graph=True, allow_unused=True, materialize_grads=True
            )
            torch.cat([g.reshape(-1).to(dtype) for g in grads], out=jac[i])
        bounds, start = [], 0
        for n in sizes:
            bounds.append((start, start + n))
            start += n
        # Blockwise per tensor (column views, no copies): more accurate in float32 than one product.
        gramian = torch.zeros(self.num_tasks, self.num_tasks, dtype=dtype, device=jac.device)
        for a, b in bounds:
            gramian.addmm_(jac[:, a:b], jac[:, a:b].T)
        self._jacobian = (params, jac, bounds) if keep else None
        return gramian

    @property
    def keeps_jacobian(self) -> bool:
        """Whether the last :meth:`parameter_gramian` kept its Jacobian (``keep=True``)."""
        return self._jacobian is not None

    def group_gramians(self, groups: Mapping[str, Sequence[Tensor]]) -> dict[str, Tensor]:
        """Per group of encoder parameters (e.g. a layer's), the Gramian of the task gradients restricted
        to it, from the Jacobian kept by :meth:`parameter_gramian` (no backward pass); each accumulated
        per tensor in the group's order, as :func:`gramians` does."""
        if self._jacobian is None:
            raise RuntimeError("group_gramians needs the Jacobian: call parameter_gramian(..., keep=True) first")
        params, jac, bounds = self._jacobian
        where = {id(p): bound for p, bound in zip(params, bounds, strict=True)}
        out = {}
        for name, group in groups.items():
            gramian = torch.zeros(self.num_tasks, self.num_tasks, dtype=jac.dtype, device=jac.device)
            for p in group:
                if p.requires_grad:
                    a, b = where[id(p)]
                    # A contiguous copy of the block: BLAS rounds a strided view differently, and a logged
                    # layer Gramian must not depend on which of the two paths computed it.
                    block = jac[:, a:b].contiguous()
                    gramian.addmm_(block, block.T)
            out[name] = gramian
        return out

    def backward(self, weights: Tensor) -> None:
        """Accumulate the gradients of ``sum_i w_i L_i`` into ``.grad`` (heads and encoder)."""
        w = weights.detach()
        for i, (params, grads) in enumerate(zip(self.head_parameters, self.head_grads, strict=True)):
            for p, g in zip(params, grads, strict=True):
                _accumulate_grad(p, w[i].to(g.dtype) * g)
        if self._jacobian is not None:
            params, jac, bounds = self._jacobian
            flat = w.to(jac.dtype) @ jac
            for p, (a, b) in zip(params, bounds, strict=True):
                _accumulate_grad(p, flat[a:b].view_as(p).to(p.dtype))
            return
        cotangent = sum(w[i].to(g.dtype) * g for i, g in enumerate(self.rep_grads))
        torch.autograd.backward(self.representation, cotangent, retain_graph=True)
