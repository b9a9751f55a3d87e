"""MTO metrics against hand-derived values and explicit gradient vectors (numpy as the reference)."""

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from autoscale import metrics

F64 = torch.float64


def gram(*grads: list[float]) -> Tensor:
    """Gramian of explicit gradient vectors (rows)."""
    jac = torch.tensor(grads, dtype=F64)
    return jac @ jac.T


def close(actual: Tensor, expected: object, **kwargs: float) -> None:
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), **kwargs)


# Orthogonal gradients with norms 1 and 2.
ORTHO = gram([1.0, 0.0], [0.0, 2.0])


def test_orthogonal_norms_1_2() -> None:
    close(metrics.magnitude_similarity(ORTHO), [[1.0, 0.8], [0.8, 1.0]])  # 2*1*2/(1+4)
    close(metrics.magnitude_ratio(ORTHO), [[1.0, 0.5], [0.5, 1.0]])
    close(metrics.cosine_similarity(ORTHO), [[1.0, 0.0], [0.0, 1.0]])
    close(metrics.condition_number(ORTHO), 2.0)
    close(metrics.relative_gradient_magnitude(ORTHO), [2 / 3, 4 / 3])
    # mean gradient (0.5, 1): cos to g1 = 0.5/sqrt(1.25), to g2 = 2/(2 sqrt(1.25))
    close(metrics.cosine_to_mean(ORTHO), [1 / math.sqrt(5), 2 / math.sqrt(5)])
    close(metrics.cosine_to_update(ORTHO, torch.tensor([2.0, 0.5])), [2 / math.sqrt(5), 1 / math.sqrt(5)])
    # u = (1, 2): u.g1/|g1| = 1, u.g2/|g2| = 4/2
    close(metrics.projected_magnitude(ORTHO, torch.tensor([1.0, 1.0])), [1.0, 2.0])
    # u = (2, 1): 2 and 2/2
    close(metrics.projected_magnitude(ORTHO, torch.tensor([2.0, 0.5])), [2.0, 1.0])


def test_condition_number_with_inverse_norm_weights_is_one() -> None:
    close(metrics.condition_number(ORTHO, torch.tensor([1.0, 0.5])), 1.0)
    three = gram([3.0, 0, 0], [0, 0.5, 0], [0, 0, 7.0])
    close(metrics.condition_number(three), 14.0)
    close(metrics.condition_number(three, torch.tensor([1 / 3, 2.0, 1 / 7])), 1.0)


def test_parallel_gradients() -> None:
    g = gram([1.0, 0.0], [3.0, 0.0])
    close(metrics.magnitude_similarity(g)[0, 1], 0.6)  # 2*3/(1+9)
    close(metrics.magnitude_ratio(g)[0, 1], 1 / 3)
    close(metrics.cosine_similarity(g)[0, 1], 1.0)
    assert metrics.condition_number(g) == math.inf


def test_conflicting_gradients() -> None:
    g = gram([1.0, 1.0], [-2.0, -2.0])
    close(metrics.cosine_similarity(g)[0, 1], -1.0)
    close(metrics.magnitude_similarity(g)[0, 1], 0.8)
    assert metrics.condition_number(g) == math.inf
    close(metrics.cosine_to_update(g, torch.tensor([1.0, 1.0])), [-1.0, 1.0])
    # g1 = (1, 0), g2 = (-1, 1), u = (0, 1): projections 0 and 1/sqrt(2)
    partly = gram([1.0, 0.0], [-1.0, 1.0])
    close(metrics.projected_magnitude(partly, torch.tensor([1.0, 1.0])), [0.0, 1 / math.sqrt(2)])
    close(metrics.cosine_similarity(partly)[0, 1], -1 / math.sqrt(2))


def test_badly_scaled_gradients() -> None:
    g = gram([1e3, 0.0], [0.0, 1e-3])
    close(metrics.magnitude_similarity(g)[0, 1], 2.0 / (1e6 + 1e-6))
    close(metrics.condition_number(g), 1e6)
    # A float32 Gramian of independent, badly scaled gradients keeps a finite condition number.
    g32 = torch.diag(torch.tensor([9e6, 1.0]))
    assert g32.dtype == torch.float32
    close(metrics.condition_number(g32), 3000.0)


def test_against_numpy_on_random_gradients() -> None:
    rng = np.random.default_rng(0)
    jac = rng.normal(size=(3, 7)) * np.array([[0.1], [1.0], [30.0]])
    w = np.array([0.5, 2.0, 0.3])
    g = torch.from_numpy(jac @ jac.T)
    norms = np.linalg.norm(jac, axis=1)
    cos = jac @ jac.T / np.outer(norms, norms)
    gms = 2 * np.outer(norms, norms) / (norms[:, None] ** 2 + norms[None, :] ** 2)
    update = w @ jac
    close(metrics.cosine_similarity(g), cos)
    close(metrics.magnitude_similarity(g), gms)
    close(metrics.magnitude_ratio(g), np.minimum.outer(norms, norms) / np.maximum.outer(norms, norms))
    close(metrics.condition_number(g), np.linalg.cond(jac.T))
    close(metrics.condition_number(g, torch.from_numpy(w)), np.linalg.cond((jac * w[:, None]).T))
    close(metrics.cosine_to_update(g, torch.from_numpy(w)), jac @ update / (norms * np.linalg.norm(update)))
    mean = jac.mean(0)
    close(metrics.cosine_to_mean(g), jac @ mean / (norms * np.linalg.norm(mean)))
    close(metrics.projected_magnitude(g, torch.from_numpy(w)), jac @ update / norms)
    close(metrics.relative_gradient_magnitude(g), 3 * norms / norms.sum())


def test_invariances() -> None:
    g = gram([1.0, 0.2, 0.0], [0.3, -2.0, 0.5], [0.0, 1.0, 4.0])
    for scale in (1e-3, 7.0):
        scaled = scale**2 * g  # every gradient times the same scale
        close(metrics.magnitude_similarity(scaled), metrics.magnitude_similarity(g))
        close(metrics.cosine_similarity(scaled), metrics.cosine_similarity(g))
        close(metrics.condition_number(scaled), metrics.condition_number(g))
    w = torch.tensor([0.2, 1.5, 3.0], dtype=F64)
    weighted = metrics.weighted_gramian(g, w)
    close(weighted, gram([0.2, 0.04, 0.0], [0.45, -3.0, 0.75], [0.0, 3.0, 12.0]))
    # LS weights leave cosines unchanged but change GMS.
    close(metrics.cosine_similarity(weighted), metrics.cosine_similarity(g))
    assert not torch.allclose(metrics.magnitude_similarity(weighted), metrics.magnitude_similarity(g))
    close(metrics.condition_number(g, w), metrics.condition_number(weighted))
    # GMS is 2r / (1 + r^2) of the magnitude ratio r.
    r = metrics.magnitude_ratio(g)
    close(metrics.magnitude_similarity(g), 2 * r / (1 + r**2))


def test_stacked_gramians_equal_per_slice() -> None:
    gen = torch.Generator().manual_seed(0)
    jac = torch.randn(4, 3, 6, generator=gen, dtype=F64)
    stacked = jac @ jac.mT
    w_shared = torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    w_per_step = torch.rand(4, 3, generator=gen, dtype=F64) + 0.1
    pairwise = (metrics.magnitude_similarity, metrics.magnitude_ratio, metrics.cosine_similarity)
    unweighted = (*pairwise, metrics.cosine_to_mean, metrics.relative_gradient_magnitude, metrics.condition_number)
    for fn in unweighted:
        out = fn(stacked)
        assert out.shape[0] == 4
        for t in range(4):
            close(out[t], fn(stacked[t]))
    weighted = (metrics.cosine_to_update, metrics.projected_magnitude, metrics.condition_number)
    for fn in weighted:
        for w in (w_shared, w_per_step):
            out = fn(stacked, w)
            for t in range(4):
                close(out[t], fn(stacked[t], w if w.ndim == 1 else w[t]))


def test_zero_gradient_is_undefined_not_an_error() -> None:
    g = gram([0.0, 0.0], [0.0, 2.0])
    for fn in (metrics.magnitude_similarity, metrics.magnitude_ratio, metrics.cosine_similarity):
        out = fn(g)
        assert torch.isnan(out[0]).all() and torch.isnan(out[:, 0]).all()
        close(out[1, 1], 1.0)
    assert metrics.condition_number(g) == math.inf
    assert metrics.condition_number(torch.zeros(3, 3)) == math.inf
    w = torch.tensor([1.0, 1.0], dtype=F64)
    assert torch.isnan(metrics.projected_magnitude(g, w)[0])
    close(metrics.projected_magnitude(g, w)[1], 2.0)
    assert torch.isnan(metrics.cosine_to_update(g, w)[0])
    # An update of zero length has no direction.
    assert torch.isnan(metrics.cosine_to_update(gram([1.0, 0.0], [-1.0, 0.0]), w)).all()
    close(metrics.relative_gradient_magnitude(g), [0.0, 2.0])
    assert torch.isnan(metrics.relative_gradient_magnitude(torch.zeros(2, 2))).all()


def test_round_off_is_clamped() -> None:
    # A slightly negative diagonal entry is a zero gradient, not a sqrt of a negative number.
    g = torch.tensor([[-1e-18, 0.0], [0.0, 1.0]], dtype=F64)
    assert torch.isnan(metrics.cosine_similarity(g)[0, 1])
    assert metrics.condition_number(g) == math.inf
    # Rank-one Gramian perturbed to a slightly negative eigenvalue.
    g = torch.tensor([[1.0, 1.0], [1.0, 1.0 - 1e-15]], dtype=F64)
    assert torch.linalg.eigvalsh(g)[0] < 0
    assert metrics.condition_number(g) == math.inf
    assert metrics.cosine_similarity(gram([1.0, 1.0], [3.0, 3.0])).max() <= 1.0


def test_non_finite_gramian_gives_nan_condition_number() -> None:
    g = torch.tensor([[1.0, float("nan")], [float("nan"), 1.0]])
    assert torch.isnan(metrics.condition_number(g))
    stacked = torch.stack([g, torch.eye(2)])
    out = metrics.condition_number(stacked)
    assert torch.isnan(out[0]) and out[1] == 1.0


def test_loss_metrics_hand_values() -> None:
    l0 = torch.tensor([2.0, 4.0, 1.0])
    loss = torch.tensor([1.0, 4.0, 0.5])
    close(metrics.inverse_training_rate(loss, l0), [0.5, 1.0, 0.5])
    assert metrics.loss_ratio is metrics.inverse_training_rate
    close(metrics.relative(torch.tensor([1.0, 3.0])), [0.5, 1.5])
    close(metrics.relative(metrics.inverse_training_rate(loss, l0)), [0.75, 1.5, 0.75])
    close(metrics.relative_loss_scale(torch.tensor([1.0, 3.0])), [0.25, 0.75])
    prev, cur = torch.tensor([2.0, 4.0]), torch.tensor([1.0, 3.0])
    close(metrics.loss_descending_rate(prev, cur), [0.5, 0.25])
    close(metrics.improvement_ratio(prev, cur), [0.5, 0.75])
    close(metrics.loss_descending_rate(prev, cur), 1 - metrics.improvement_ratio(prev, cur))
    close(metrics.loss_variance(torch.tensor([[1.0, 2.0], [3.0, 2.0]])), [1.0, 0.0])


def test_loss_metrics_stacked_and_windowed() -> None:
    gen = torch.Generator().manual_seed(0)
    losses = torch.rand(11, 3, generator=gen, dtype=F64) + 0.5
    l0 = losses[0]
    itr = metrics.inverse_training_rate(losses, l0)
    assert itr.shape == (11, 3)
    close(itr[4], losses[4] / l0)
    close(metrics.relative(losses).sum(-1), torch.full((11,), 3.0, dtype=F64))
    means = metrics.windowed_mean(losses, 4)  # windows [0,4), [4,8); the last 3 steps are dropped
    close(means, np.stack([losses[:4].mean(0).numpy(), losses[4:8].mean(0).numpy()]))
    assert metrics.windowed_mean(losses, 20).shape == (0, 3)
    ldr = metrics.loss_descending_rate(means[:-1], means[1:])
    close(ldr[0], (means[0] - means[1]) / means[0])
    windows = losses[:8].reshape(2, 4, 3)
    close(metrics.loss_variance(windows), np.var(windows.numpy(), axis=1))
    with pytest.raises(ValueError):
        metrics.windowed_mean(losses, 0)


def test_summarize_step() -> None:
    summary = metrics.summarize_step(
        ORTHO, torch.tensor([1.0, 2.0]), torch.tensor([2.0, 2.0]), torch.tensor([1.0, 0.5])
    )
    assert all(isinstance(v, float) for v in summary.values())
    expected = {
        "gms": 1.0,  # weighted norms (1, 1)
        "gms_raw": 0.8,
        "cos": 0.0,
        "cond": 1.0,
        "cond_raw": 2.0,
        "itr_std": 1 / 3,  # relative((0.5, 1)) = (2/3, 4/3)
        "rls_std": 0.0,  # weighted losses (1, 1)
        "rls_std_raw": 1 / 6,  # (1/3, 2/3)
        "rgm_std": 0.0,
        "weight_1": 0.5,
        "loss_1": 2.0,
        "grad_norm_1": 2.0,
        "itr_0": 0.5,
        "cos_update_0": 1 / math.sqrt(2),  # u = (1, 1)
    }
    for key, value in expected.items():
        assert summary[key] == pytest.approx(value, abs=1e-12), key
    zero = metrics.summarize_step(gram([0.0, 0.0], [0.0, 1.0]), torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.0]))
    assert math.isnan(zero["gms"]) and zero["cond"] == math.inf
    # Losses and weights still attached to a graph (as in a training step) are fine.
    param = torch.zeros(2, requires_grad=True)
    attached = metrics.summarize_step(ORTHO, param + torch.tensor([1.0, 2.0]), torch.tensor([2.0, 2.0]), param + 1)
    assert attached["cond_raw"] == pytest.approx(2.0) and attached["loss_1"] == pytest.approx(2.0)
