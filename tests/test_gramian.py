"""Gramian tests against an independent reference: per-task ``.backward()`` into ``.grad``."""

import pytest
import torch
from helpers import small_cnn
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock

from autoscale.gramian import SplitGradients, compute_gramian, gramians, naive_gramian, task_jacobian

NUM_TASKS = 3


def reference_gramian(losses: Tensor, params: list[Tensor]) -> Tensor:
    """G from K separate ``backward`` calls accumulating into ``.grad`` (None -> zero gradient)."""
    rows = []
    for i in range(losses.shape[0]):
        for p in params:
            p.grad = None
        losses[i].backward(retain_graph=True)
        rows.append(torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).reshape(-1) for p in params]))
    for p in params:
        p.grad = None
    jac = torch.stack(rows)
    return jac @ jac.T


def assert_gramian_close(actual: Tensor, expected: Tensor) -> None:
    # 1e-5 relative to the Gramian's scale (float64 everywhere).
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())


class MultiTaskNet(nn.Module):
    """Shared encoder (B, C, H, W) -> (B, D), then K differently-shaped task heads."""

    def __init__(self, encoder: nn.Module, dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleList([nn.Linear(dim, 5), nn.Linear(dim, 1), nn.Linear(dim, 2)])

    def losses_from_representation(self, z: Tensor, seed: int = 0) -> Tensor:
        gen = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, 5, (z.shape[0],), generator=gen)
        target = torch.randn(z.shape[0], 1, generator=gen, dtype=z.dtype)
        return torch.stack(
            [
                nn.functional.cross_entropy(self.heads[0](z), labels),
                nn.functional.mse_loss(self.heads[1](z), target),
                self.heads[2](z).abs().mean(),
            ]
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.encoder(x)
        return self.losses_from_representation(z), z


def dilated_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=2, dilation=2),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=4, dilation=4),
        nn.GroupNorm(2, 4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 8),
    )


def tiny_resnet() -> nn.Module:
    width = 8
    downsample = nn.Sequential(nn.Conv2d(width, 2 * width, 1, 2, bias=False), nn.BatchNorm2d(2 * width))
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        BasicBlock(width, width),
        BasicBlock(width, 2 * width, stride=2, downsample=downsample),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2 * width, 8),
    )


ENCODERS = {"cnn_batchnorm": small_cnn, "dilated": dilated_net, "tiny_resnet": tiny_resnet}


@pytest.fixture(params=list(ENCODERS))
def net(request: pytest.FixtureRequest) -> MultiTaskNet:
    torch.manual_seed(0)
    return MultiTaskNet(ENCODERS[request.param](), 8).double().train()


def _inputs() -> Tensor:
    return torch.randn(6, 1, 12, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_gramian_matches_reference_on_shared_parameters(net: MultiTaskNet) -> None:
    losses, _ = net(_inputs())
    params = list(net.encoder.parameters())
    expected = reference_gramian(losses, params)
    assert expected.abs().max() > 0
    assert_gramian_close(compute_gramian(losses, params), expected)
    assert_gramian_close(naive_gramian(losses, params), expected)
    jac = task_jacobian(losses, params)
    assert jac.shape == (NUM_TASKS, sum(p.numel() for p in params))
    assert_gramian_close(jac @ jac.T, expected)


def test_gramian_wrt_representation(net: MultiTaskNet) -> None:
    losses, z = net(_inputs())
    # Independent reference: the heads applied to a detached leaf copy of the representation.
    leaf = z.detach().requires_grad_()
    expected = reference_gramian(net.losses_from_representation(leaf), [leaf])
    # A lone tensor is one input, not a sequence of rows.
    assert_gramian_close(compute_gramian(losses, z), expected)
    assert_gramian_close(naive_gramian(losses, [z]), expected)


def test_gramian_is_symmetric_psd(net: MultiTaskNet) -> None:
    losses, _ = net(_inputs())
    gramian = compute_gramian(losses, net.encoder.parameters())  # a generator is accepted
    torch.testing.assert_close(gramian, gramian.T)
    assert torch.linalg.eigvalsh(gramian).min() > -1e-10 * gramian.abs().max()
    assert not gramian.requires_grad


class PartlySharedNet(nn.Module):
    """Task 0 also reads ``extra``, a shared parameter the other tasks never reach."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Linear(4, 3)
        self.extra = nn.Parameter(torch.randn(3))
        self.frozen = nn.Parameter(torch.randn(3), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        z = torch.tanh(self.trunk(x)) + self.frozen
        return torch.stack([(z * self.extra).sum(), z.pow(2).mean(), z[:, 0].mean()])


def test_parameter_unused_by_some_tasks_contributes_zero() -> None:
    torch.manual_seed(0)
    net = PartlySharedNet().double()
    losses = net(torch.randn(5, 4, dtype=torch.float64))
    params = [net.trunk.weight, net.trunk.bias, net.extra, net.frozen]
    expected = reference_gramian(losses, params[:3])
    assert_gramian_close(compute_gramian(losses, params), expected)
    assert_gramian_close(naive_gramian(losses, params), expected)
    jac = task_jacobian(losses, params)  # the frozen parameter is skipped
    extra = jac[:, -3:]
    assert extra[0].abs().max() > 0
    assert torch.all(extra[1:] == 0)
    # Only the unused parameter: rows and columns of tasks 1, 2 are exactly zero.
    only_extra = compute_gramian(losses, [net.extra])
    assert only_extra[0, 0] > 0
    assert torch.all(only_extra[1:] == 0) and torch.all(only_extra[:, 1:] == 0)


def test_nothing_differentiable_gives_zeros() -> None:
    p = torch.randn(3, requires_grad=True)
    losses = torch.stack([p.sum(), p.pow(2).sum()])
    frozen = torch.randn(3)
    assert torch.equal(compute_gramian(losses, [frozen]), torch.zeros(2, 2))
    assert task_jacobian(losses, [frozen]).shape == (2, 0)


def test_dtype_and_graph_retention() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(4, 2)
    losses = layer(torch.randn(3, 4)).pow(2).mean(0)
    gramian = compute_gramian(losses, list(layer.parameters()))
    assert gramian.dtype == torch.float32 and gramian.shape == (2, 2)
    # Default retain_graph=True: the training step can still back-propagate sum_i w_i L_i.
    losses.sum().backward()
    losses = layer(torch.randn(3, 4)).pow(2).mean(0)
    compute_gramian(losses, list(layer.parameters()), retain_graph=False)
    with pytest.raises(RuntimeError):
        losses.sum().backward()


def test_losses_must_be_a_vector() -> None:
    p = torch.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match="vector"):
        compute_gramian(p.sum(), [p])


def test_group_gramians_equal_each_group_computed_alone_and_sum_to_the_total(net: MultiTaskNet) -> None:
    losses, _ = net(_inputs())
    params = list(net.encoder.parameters())
    groups = {"first": params[:2], "rest": params[2:][::-1]}  # a group's own order, not the inputs'
    total, per_group = gramians(losses, params, groups)
    assert torch.equal(total, compute_gramian(losses, params))
    for name, group in groups.items():
        assert torch.equal(per_group[name], compute_gramian(losses, group))
    assert_gramian_close(per_group["first"] + per_group["rest"], reference_gramian(losses, params))


def test_a_group_outside_the_inputs_is_refused(net: MultiTaskNet) -> None:
    losses, _ = net(_inputs())
    params = list(net.encoder.parameters())
    with pytest.raises(ValueError, match="group 'heads' has 2 tensor"):
        gramians(losses, params, {"heads": list(net.heads[0].parameters())})


def test_split_group_gramians_equal_those_of_the_k_reverse_passes() -> None:
    """The per-layer Gramians of a step that kept its Jacobian equal those of K separate reverse
    passes bitwise (float32), so a logged layer metric does not depend on the path that made it."""
    torch.manual_seed(0)
    encoder = nn.Sequential(small_cnn(), nn.ReLU())
    heads = [nn.Linear(8, 5), nn.Linear(8, 3)]
    z = encoder(torch.randn(6, 1, 12, 12))
    losses = [heads[0](z).logsumexp(1).mean(), heads[1](z).pow(2).mean()]
    layers = {f"layer{i}": list(m.parameters()) for i, m in enumerate(encoder.modules()) if list(m.parameters(False))}
    split = SplitGradients(losses, z, [list(h.parameters()) for h in heads])
    with pytest.raises(RuntimeError, match="keep=True"):
        split.group_gramians(layers)
    exact = split.parameter_gramian(list(encoder.parameters()), keep=True)
    expected_total, expected = gramians(torch.stack(losses), list(encoder.parameters()), layers)
    torch.testing.assert_close(exact, expected_total)
    got = split.group_gramians(layers)
    assert got.keys() == expected.keys()
    for name in layers:
        assert torch.equal(got[name], expected[name]), name
