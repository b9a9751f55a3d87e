"""The batched weight solvers (:mod:`autoscale.methods.batched`) against the per-run methods, hand
formulas and properties; their dispatcher on a mixed stack; no host synchronisation on the device
path, and one transfer each way on the host path."""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from helpers import NoHostSync
from torch import Tensor

from autoscale.methods import batched as B
from autoscale.methods import build_method, method_class
from autoscale.methods._common import GramianWeighting

EPS64 = torch.finfo(torch.float64).eps
KINDS = ("well", "collinear", "rank_deficient", "zero_gradient")


def jacobians(kind: str, n: int, k: int, seed: int) -> Tensor:
    """(n, K, P) float64 task gradients of badly scaled rows: independent, within about 1e-3 rad of
    one direction, of rank K - 1 (parallel for K = 2), or with the last task's gradient zero."""
    gen = torch.Generator().manual_seed(seed)
    p = 2 * k + 1
    scales = torch.exp(torch.randn(n, k, 1, generator=gen, dtype=torch.float64))
    if kind == "collinear":
        base = torch.randn(n, 1, p, generator=gen, dtype=torch.float64)
        return scales * (base + 1e-3 * torch.randn(n, k, p, generator=gen, dtype=torch.float64))
    if kind == "rank_deficient":
        return scales * torch.randn(n, k, k - 1, generator=gen, dtype=torch.float64)
    j = scales * torch.randn(n, k, p, generator=gen, dtype=torch.float64)
    if kind == "zero_gradient":
        j[:, -1] = 0.0
    return j


def inputs(kind: str, n: int, k: int, seed: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Positive losses (n, K) and Gramians (n, K, K), computed in ``dtype`` as a trainer would."""
    j = jacobians(kind, n, k, seed).to(dtype)
    gen = torch.Generator().manual_seed(seed + 1000)
    losses = (torch.rand(n, k, generator=gen, dtype=torch.float64) + 0.1).to(dtype)
    return losses, j @ j.mT


def per_run(name: str, options: dict[str, Any], losses: Tensor, gramians: Tensor) -> Tensor:
    k = losses.shape[1]
    return torch.stack([build_method(name, k, **options).weights(losses[m], gramians[m]) for m in range(len(losses))])


# -- condition numbers of the tolerance (module docstring: |Δw| <= (1e-12 + 100 eps κ) max(1, |w|)) --


def kappa_pinv(g: Tensor) -> Tensor:
    lam = torch.linalg.eigvalsh(g).abs()
    kept = torch.where(lam > g.shape[-1] * EPS64 * lam.amax(-1, keepdim=True), lam, torch.inf)
    return (lam.amax(-1) / kept.amin(-1)).nan_to_num(1.0).clamp(min=1.0)


def kappa_aligned(g: Tensor, eps: float) -> Tensor:
    lam = torch.linalg.eigvalsh(g)
    kept = torch.where(lam > lam[:, -1:] * g.shape[-1] * eps, lam, torch.inf)
    return (lam[:, -1] / kept.amin(-1)).nan_to_num(1.0).clamp(min=1.0)


def kappa_mgda(g: Tensor, losses: Tensor, normalization: str) -> Tensor:
    norms = torch.sqrt(torch.diagonal(g, dim1=-2, dim2=-1).clamp(min=0.0))
    n = {"none": torch.ones_like(losses), "l2": norms, "loss": losses, "loss+": losses * norms}[normalization]
    n = torch.where(n > 0, n, 1.0)
    g = g / (n[:, :, None] * n[:, None, :])
    segment = g[:, 0, 0] + g[:, 1, 1] - 2 * g[:, 0, 1]
    return (torch.diagonal(g, dim1=-2, dim2=-1).amax(-1) / segment).nan_to_num(1.0, posinf=1.0).clamp(min=1.0)


def kappa_projection(g: Tensor, reg_eps: float = 1e-4) -> Tensor:
    trace = torch.diagonal(g, dim1=-2, dim2=-1).sum(-1)[:, None, None]
    lam = torch.linalg.eigvalsh(g / trace + reg_eps * torch.eye(g.shape[-1], dtype=g.dtype))
    return lam[:, -1] / lam[:, 0]


# name -> (per-run method, its options, batched solver, condition number)
SOLVERS: dict[str, tuple[str, dict[str, Any], Callable[[Tensor, Tensor], Tensor], Callable[..., Tensor]]] = {
    "imtlg": ("imtlg", {}, lambda losses, g: B.imtlg_weights(g), lambda losses, g, eps: kappa_pinv(g)),
    **{
        f"mgda-{norm}": (
            "mgda",
            {"normalization": norm},
            lambda losses, g, norm=norm: B.mgda2_weights(g, losses, norm),
            lambda losses, g, eps, norm=norm: kappa_mgda(g, losses, norm),
        )
        for norm in ("none", "l2", "loss", "loss+")
    },
    **{
        f"alignedmtl-{mode}": (
            "alignedmtl",
            {"scale_mode": mode},
            lambda losses, g, mode=mode: B.alignedmtl_weights(g, mode),
            lambda losses, g, eps: kappa_aligned(g, eps),
        )
        for mode in ("min", "median", "rmse")
    },
    "upgrad": ("upgrad", {}, lambda losses, g: B.upgrad_weights(g), lambda losses, g, eps: kappa_projection(g)),
    "dualproj": ("dualproj", {}, lambda losses, g: B.dualproj_weights(g), lambda losses, g, eps: kappa_projection(g)),
}


def assert_within_tolerance(got: Tensor, expected: Tensor, kappa: Tensor, dtype: torch.dtype, what: str) -> None:
    """The module's stated tolerance, plus the rounding of both results to ``dtype``."""
    got, expected = got.double(), expected.double()
    scale = expected.abs().amax(-1).clamp(min=1.0)
    rounding = 2 * torch.finfo(dtype).eps * expected.abs().amax(-1) if dtype != torch.float64 else 0.0
    allowed = (1e-12 + 100 * EPS64 * kappa) * scale + rounding
    deviation = (got - expected).abs().amax(-1)
    assert (deviation <= allowed).all(), f"{what}: deviation {deviation.max().item():.2e} > {allowed.min().item():.2e}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_batched_solver_equals_per_run(solver: str, kind: str) -> None:
    name, options, batched, kappa = SOLVERS[solver]
    for k, dtype, seed in itertools.product((2, 3, 4), (torch.float64, torch.float32), (0, 1)):
        if name == "mgda" and k != 2:
            continue
        n = 16 if seed == 0 else 1 + seed
        losses, gramians = inputs(kind, n, k, seed, dtype)
        got = batched(losses, gramians)
        assert got.dtype == gramians.dtype and got.shape == (n, k)
        expected = per_run(name, options, losses, gramians)
        kap = kappa(losses.double(), gramians.double(), torch.finfo(dtype).eps)
        assert_within_tolerance(got, expected, kap, dtype, f"{solver} {kind} K={k} {dtype} seed {seed}")


# -- independent truths: LAPACK, hand formulas, properties ---------------------------------------


@pytest.mark.parametrize("k", range(2, B.MAX_TASKS + 1))
def test_symmetric_eigh_matches_lapack(k: int) -> None:
    for kind in KINDS:
        j = jacobians(kind, 8, k, k)
        a = j @ j.mT
        a = (a + a.mT) / 2
        values, vectors = B.symmetric_eigh(a)
        size = a.flatten(1).norm(dim=1, keepdim=True)
        assert (values - torch.linalg.eigvalsh(a)).abs().le(4 * k * EPS64 * size).all(), kind
        rebuilt = vectors @ torch.diag_embed(values) @ vectors.mT
        assert (rebuilt - a).flatten(1).norm(dim=1).le(4 * k * EPS64 * size.squeeze(1)).all(), kind
        assert torch.allclose(vectors.mT @ vectors, torch.eye(k, dtype=a.dtype).expand_as(a), atol=4 * k * EPS64)


def test_mgda2_hand_formula() -> None:
    # normalization "none": w_1 = clip(((g2 - g1) . g2) / |g1 - g2|^2, 0, 1), from the gradients.
    cases = [jacobians(kind, 16, 2, 5) for kind in ("well", "collinear", "rank_deficient")]
    cases.append(torch.tensor([[[1.0, 0.0], [2.0, 0.0]], [[3.0, 1.0], [-1.0, 0.5]]], dtype=torch.float64))
    for j in cases:
        g1, g2 = j[:, 0], j[:, 1]
        w1 = (((g2 - g1) * g2).sum(-1) / (g1 - g2).pow(2).sum(-1)).clamp(0.0, 1.0)
        w = B.mgda2_weights(j @ j.mT, torch.ones(len(j), 2, dtype=torch.float64), "none")
        assert torch.allclose(w, torch.stack([w1, 1 - w1], dim=-1), rtol=0, atol=1e-9)


def test_mgda2_degenerate_inputs() -> None:
    identical = torch.ones(1, 2, 2, dtype=torch.float64)  # g1 = g2: the per-run solver stays at task 1
    zero = torch.zeros(1, 2, 2, dtype=torch.float64)
    for g in (identical, zero):
        ones = torch.ones(1, 2, dtype=torch.float64)
        assert torch.equal(B.mgda2_weights(g, ones), per_run("mgda", {}, ones, g))
    # A negative loss: the per-run method raises; the batched solver marks that run NaN, and only it.
    losses = torch.tensor([[1.0, -0.5], [1.0, 2.0]], dtype=torch.float64)
    _, gramians = inputs("well", 2, 2, 0, torch.float64)
    with pytest.raises(ValueError, match="non-negative losses"):
        per_run("mgda", {}, losses[:1], gramians[:1])
    w = B.mgda2_weights(gramians, losses)
    assert w[0].isnan().all() and torch.allclose(w[1], per_run("mgda", {}, losses[1:], gramians[1:])[0])


def test_imtlg_equal_projections() -> None:
    # IMTL-G: d = J^T alpha has the same projection on every unit gradient, and sum alpha = 1.
    j = jacobians("well", 16, 4, 3)
    alpha = B.imtlg_weights(j @ j.mT)
    d = (alpha.unsqueeze(-1) * j).sum(1)
    projections = (j @ d.unsqueeze(-1)).squeeze(-1) / j.norm(dim=-1)
    assert torch.allclose(projections, projections[:, :1].expand_as(projections), rtol=1e-9)
    assert torch.allclose(alpha.sum(-1), torch.ones(16, dtype=torch.float64))
    assert torch.equal(B.imtlg_weights(torch.zeros(2, 3, 3)), torch.zeros(2, 3))  # "zeros when the normaliser vanishes"


def test_alignedmtl_documented_values() -> None:
    hand = B.alignedmtl_weights(torch.tensor([[[1.0, 0.0], [0.0, 4.0]]], dtype=torch.float64))
    assert torch.allclose(hand, torch.tensor([[1.0, 0.5]], dtype=torch.float64))  # B = diag(1, 1/2)
    assert torch.equal(B.alignedmtl_weights(torch.zeros(2, 3, 3)), torch.zeros(2, 3))  # no update
    # A float32 Gramian of g2 = 0.7 g1: its rounding noise is cut off at float32 precision, B = v v^T.
    jac = np.random.default_rng(2).normal(size=(2, 64))
    jac[1] = 0.7 * jac[0]
    j32 = torch.from_numpy(jac.astype(np.float32))
    w = B.alignedmtl_weights((j32 @ j32.T)[None])
    assert w.dtype == torch.float32
    assert np.allclose(w[0].numpy(), np.array([1.0, 0.7]) * 1.7 / 1.49, rtol=1e-5)


def test_dual_cone_projections_kkt() -> None:
    k = 4
    _, gramians = inputs("well", 16, k, 7, torch.float64)
    u = torch.full((16, k), 1 / k, dtype=torch.float64)
    v = B.dualproj_weights(gramians)
    g = gramians / torch.diagonal(gramians, dim1=-2, dim2=-1).sum(-1)[:, None, None] + 1e-4 * torch.eye(k)
    multiplier = (g @ v.unsqueeze(-1)).squeeze(-1)
    assert (v >= u - 1e-10).all() and (multiplier >= -1e-10).all()
    assert ((v - u) * multiplier).abs().max() <= 1e-10  # complementary slackness
    assert ((v - u).amin(-1) < 1e-10).all() and (v - u).amax() > 0.1  # some constraints are active, some not
    # No conflict (G >= 0): nothing to project, both are the mean gradient.
    positive = jacobians("well", 4, k, 8).abs()
    for solve in (B.upgrad_weights, B.dualproj_weights):
        assert torch.allclose(solve(positive @ positive.mT), torch.full((4, k), 1 / k, dtype=torch.float64), atol=1e-14)
        assert torch.equal(solve(1e-6 * torch.eye(k)[None]), torch.full((1, k), 1 / k))  # trace < norm_eps


# -- the dispatcher ----------------------------------------------------------------------------------

# A stack with every routing: batched, host-solved, stateful, random, learnable, unsupported options.
STACK: list[tuple[str, dict[str, Any]]] = [
    ("imtlg", {}),
    ("mgda", {}),
    ("mgda_ub", {"normalization": "l2"}),
    ("alignedmtl", {"scale_mode": "median"}),
    ("upgrad", {}),
    ("dualproj", {}),
    ("upgrad", {"reg_eps": 0.0}),
    ("cagrad", {}),
    ("nashmtl", {"update_weights_every": 2}),
    ("autoscale", {"total_steps": 6, "alpha": 0.5, "window": 2}),
    ("famo", {}),
    ("dwa", {}),
    ("rlw", {"seed": 3}),
    ("pcgrad", {"seed": 4}),
    ("uw", {}),
    ("linear", {}),
    ("imtlg", {}),
]


def build_stack(k: int) -> list:
    return [build_method(name, k, **{**method_class(name).properties.options(k), **opts}) for name, opts in STACK]


def same(a: object, b: object) -> bool:
    """Exact equality of state: tensors and arrays elementwise, containers recursively."""
    if isinstance(a, Tensor):
        return isinstance(b, Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[x], b[x]) for x in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("k", [2, 3])
def test_stacked_weights_equal_per_run_on_a_mixed_stack(k: int) -> None:
    stacked, alone = build_stack(k), build_stack(k)
    for step in range(5):
        losses, gramians = inputs("well", len(STACK), k, 20 + step, torch.float32)
        after = losses * 0.9
        given = [g if m.needs_gramian else None for m, g in zip(stacked, gramians, strict=True)]
        assert [m.needs_gramian for m in alone] == [g is not None for g in given]
        got = B.stacked_weights(stacked, losses, given)
        assert got.shape == (len(STACK), k) and got.dtype == losses.dtype
        for m, (a, b) in enumerate(zip(stacked, alone, strict=True)):
            expected = b.weights(losses[m], given[m])
            if B.batched_solver(a) is None:
                assert torch.equal(got[m], expected), (step, STACK[m])
            else:
                assert torch.allclose(got[m], expected, rtol=4e-7, atol=1e-9), (step, STACK[m])
            for method in (a, b):
                if method.needs_post_step_losses:
                    method.post_step(after[m])
    routed = [B.batched_solver(m) is not None for m in stacked]
    assert routed == [True, k == 2, k == 2, True, True, True, False, False, False, False] + [False] * 6 + [True]
    for a, b, (name, _) in zip(stacked, alone, STACK, strict=True):
        assert same(a.state_dict(), b.state_dict()) and same(a.record(), b.record()), name
        if isinstance(a, GramianWeighting):
            assert a.gramian_eps == b.gramian_eps, name


def test_routing_keys() -> None:
    a, b = build_method("upgrad", 3), build_method("upgrad", 3, reg_eps=1e-3)
    assert B.batched_solver(a)[0] == B.batched_solver(build_method("upgrad", 3))[0] != B.batched_solver(b)[0]
    assert B.batched_solver(build_method("imtlg", B.MAX_TASKS + 1)) is None
    assert B.batched_solver(build_method("mgda", 3)) is None


# -- no host synchronisation on the device path -------------------------------------------------------

DEVICE_PATH: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    **{name: batched for name, (_, _, batched, _) in SOLVERS.items()},
    "eigh": lambda losses, g: B.symmetric_eigh(g.double())[0],
    "stacked_weights": lambda losses, g: B.stacked_weights(
        [build_method(name, g.shape[-1]) for name in ("imtlg", "mgda", "alignedmtl", "upgrad", "dualproj")],
        losses[:5],
        list(g[:5].unbind(0)),
    ),
}


@pytest.mark.parametrize("path", sorted(DEVICE_PATH))
def test_device_path_does_not_synchronise(path: str) -> None:
    k = 2  # every solver (MGDA's closed form is for K = 2), one size; the code has no branch on K
    losses, gramians = inputs("well", 6, k, 0, torch.float32)
    # On the CPU, check_inputs reads whether the inputs are finite, as the per-run weights do there
    # (nothing to wait for); on a device it checks shapes only, which the meta run below sees.
    with NoHostSync(device_inputs=False) if path != "stacked_weights" else contextlib.nullcontext():
        on_cpu = DEVICE_PATH[path](losses, gramians)
    assert on_cpu.isfinite().all()
    losses_meta, gramians_meta = losses.to("meta"), gramians.to("meta")
    with NoHostSync(device_inputs=True):
        on_meta = DEVICE_PATH[path](losses_meta, gramians_meta)
    assert on_meta.device.type == "meta" and on_meta.shape == on_cpu.shape and on_meta.dtype == on_cpu.dtype
    with NoHostSync(device_inputs=True):
        k4 = B.upgrad_weights(torch.empty(3, 4, 4, device="meta")) if path == "upgrad" else None
    assert k4 is None or k4.shape == (3, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("path", sorted(DEVICE_PATH))
def test_device_path_does_not_synchronise_on_cuda(path: str) -> None:
    losses, gramians = inputs("well", 6, 2, 0, torch.float32)
    cuda_losses, cuda_gramians = losses.cuda(), gramians.cuda()
    DEVICE_PATH[path](cuda_losses, cuda_gramians)  # lazy initialisations (handles, kernels) first
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        on_cuda = DEVICE_PATH[path](cuda_losses, cuda_gramians)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert on_cuda.is_cuda
    assert torch.allclose(on_cuda.cpu(), DEVICE_PATH[path](losses, gramians), rtol=1e-5, atol=1e-7)


def test_the_detector_detects() -> None:
    g = torch.eye(2)[None]
    for sync in (lambda: bool(g.sum() > 0), lambda: g.sum().item(), lambda: g.cpu(), lambda: torch.linalg.eigh(g)):
        with pytest.raises(AssertionError), NoHostSync(device_inputs=False):
            sync()
    meta = g.to("meta")
    with pytest.raises(AssertionError), NoHostSync(device_inputs=True):
        meta + torch.ones(2)


# -- the host path: one transfer each way ---------------------------------------------------------


class OnDevice(Tensor):
    """A CPU tensor playing one on a device: records what crosses to the host and back."""

    crossings: ClassVar[list[str]] = []
    HOST_READS: ClassVar[set[Callable[..., Any]]] = {
        Tensor.cpu,
        Tensor.numpy,
        Tensor.tolist,
        Tensor.item,
        Tensor.__bool__,
        Tensor.__float__,
        Tensor.__int__,
        Tensor.__index__,
        Tensor.__array__,
    }

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self = args[0] if args else None
        if func is Tensor.to:
            target = next((a for a in (*args[1:], *kwargs.values()) if isinstance(a, Tensor)), None)
            device = torch._C._nn._parse_to(*args[1:], **kwargs)[0]
            if isinstance(self, OnDevice) and device is not None and not isinstance(target, OnDevice):
                return cls._cross("to host", func, args, kwargs)
            if not isinstance(self, OnDevice) and isinstance(target, OnDevice):
                cls.crossings.append("to device")
                return func(self, *(plain(a) for a in args[1:]), **kwargs).as_subclass(OnDevice)
        if func in cls.HOST_READS and isinstance(self, OnDevice):
            return cls._cross("to host", func, args, kwargs)
        return super().__torch_function__(func, types, args, kwargs)

    @classmethod
    def _cross(cls, what: str, func: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        cls.crossings.append(what)
        return func(*(plain(a) for a in args), **kwargs)


def plain(x: object) -> object:
    if isinstance(x, OnDevice):
        with torch._C.DisableTorchFunctionSubclass():
            return x.as_subclass(Tensor)
    return x


def on_device(x: Tensor) -> Tensor:
    return x.as_subclass(OnDevice)


@pytest.mark.filterwarnings("ignore:Nash-MTL")  # the zero gradient of step 0: previous weights kept
def test_host_weights_one_transfer_each_way() -> None:
    options = [("cagrad", {}), ("nashmtl", {"update_weights_every": 2}), ("cagrad", {"c": 0.8}), ("nashmtl", {})]
    host = [build_method(name, 3, **o) for name, o in options]
    alone = [build_method(name, 3, **o) for name, o in options]
    for step in range(3):
        losses, gramians = inputs("collinear" if step else "zero_gradient", len(options), 3, step, torch.float32)
        given = [on_device(g) if m.needs_gramian else None for m, g in zip(host, gramians, strict=True)]
        OnDevice.crossings.clear()
        got = B.host_weights(host, on_device(losses), given)
        assert OnDevice.crossings == ["to host", "to device"]
        assert isinstance(got, OnDevice) and got.dtype == losses.dtype
        expected = [
            b.weights(losses[m], None if g is None else gramians[m])
            for m, (b, g) in enumerate(zip(alone, given, strict=True))
        ]
        assert torch.equal(plain(got), torch.stack(expected))
    assert all(same(a.state_dict(), b.state_dict()) for a, b in zip(host, alone, strict=True))
    # The detector sees a per-run call on device inputs: one copy per run.
    OnDevice.crossings.clear()
    build_method("imtlg", 3).weights(on_device(losses[0]), on_device(gramians[0]))
    assert "to host" in OnDevice.crossings


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.filterwarnings("ignore:Nash-MTL")
def test_host_weights_synchronise_once_on_cuda() -> None:
    methods = [build_method("cagrad", 3), build_method("nashmtl", 3)]
    losses, gramians = inputs("well", 2, 3, 0, torch.float32)
    losses, gramians = losses.cuda(), list(gramians.cuda().unbind(0))
    B.host_weights(methods, losses, gramians)  # pinned buffers and handles allocated first
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = B.host_weights(methods, losses, gramians)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert got.is_cuda
    assert sum("synchronizing" in str(w.message) for w in caught) == 1
