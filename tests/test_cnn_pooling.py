"""The CNN's evaluation pooling gives the library kernels' numbers bit for bit, and training keeps the kernels.

regbench.models.cnn swaps two pooling layers for faster equivalents where no gradient is
taken (evaluation): a 2×2 max-pool as the maximum of four strided corners, and a 4×4 → 4×4
adaptive average pool as the identity. A wrong slice, a wrong corner or an average that is not
the identity would change every published evaluation number, so each is checked against
``F.max_pool2d`` / ``F.adaptive_avg_pool2d`` on the same weights.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from regbench.models.cnn import MaxPool2x2, cnn


def reference_forward(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The same model with PyTorch's pooling kernels in place of the fast paths."""
    pool_index = len(model) - 3  # [..., pool, Flatten, Linear]
    for i, layer in enumerate(model):
        if isinstance(layer, MaxPool2x2):
            x = F.max_pool2d(x, 2)
        elif i == pool_index:
            x = F.adaptive_avg_pool2d(x, min(x.shape[-1], 4))
        else:
            x = layer(x)
    return x


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 16, 16), (3, 32, 32), (1, 28, 28), (1, 7, 7)])
@pytest.mark.parametrize("norm", ["none", "batch"])
def test_eval_forward_equals_the_library_kernels_bit_for_bit(shape, norm):
    torch.manual_seed(0)
    model = cnn(shape, 10, width=8, norm=norm).eval()
    x = torch.randn(64, *shape)
    x[0, 0, 0, :2] = 5.0  # a tie inside one 2×2 window: both paths must return that value
    with torch.no_grad():
        fast = model(x)
        slow = reference_forward(model, x)
    assert torch.equal(fast, slow)


def test_max_pool_fast_path_matches_kernel_including_ties_nan_and_odd_sizes():
    pool = MaxPool2x2()
    x = torch.randn(4, 3, 6, 8)
    x[0, 0, 0, 0] = float("nan")  # a NaN propagates through both
    x[1, 1, :2, :2] = 2.0
    with torch.no_grad():
        assert torch.allclose(pool(x), F.max_pool2d(x, 2), rtol=0, atol=0, equal_nan=True)
        assert torch.isnan(pool(x)[0, 0, 0, 0])
        odd = torch.randn(2, 3, 7, 7)  # odd sizes take the kernel (floor mode)
        assert torch.equal(pool(odd), F.max_pool2d(odd, 2))


def _with_kernels(model: nn.Sequential):
    """The same model (shared parameters) with PyTorch's contiguous pooling kernels."""
    return lambda x: reference_forward(model, x)


@pytest.mark.parametrize("shape", [(3, 16, 16), (1, 8, 8), (1, 7, 7)])
def test_training_gradients_equal_the_kernels_bit_for_bit(shape):
    """Under autograd every parameter's gradient, and a Hessian-vector product (the curvature
    pass differentiates twice), are the kernels' bit for bit."""
    torch.manual_seed(1)
    model = cnn(shape, 10, width=8)
    x, y = torch.randn(32, *shape), torch.randint(0, 10, (32,))
    params = list(model.parameters())

    def grads(forward, create_graph=False):
        loss = F.cross_entropy(forward(x), y)
        return torch.autograd.grad(loss, params, create_graph=create_graph)

    for fast, slow in zip(grads(model), grads(_with_kernels(model))):
        assert torch.equal(fast, slow)
    v = [torch.randn_like(p) for p in params]

    def hvp(forward):
        g = grads(forward, create_graph=True)
        return torch.autograd.grad(sum((a * b).sum() for a, b in zip(g, v)), params)

    for fast, slow in zip(hvp(model), hvp(_with_kernels(model))):
        assert torch.equal(fast, slow)


def test_training_keeps_the_kernel_and_its_gradient():
    """Under autograd the layer is nn.MaxPool2d's kernel: the published runs' gradients."""
    pool = MaxPool2x2()
    data = torch.randn(2, 3, 8, 8)
    data[:, :, :2, :2] = 1.5  # a window of four equal maxima: the kernel's gradient goes to the first
    data[0, 0, 2:4, 2:4] = 0.0
    x = data.clone().requires_grad_()
    y = torch.randn(2, 3, 4, 4)
    (pool(x) * y).sum().backward()
    x2 = data.clone().requires_grad_()
    (F.max_pool2d(x2, 2) * y).sum().backward()
    assert torch.equal(x.grad, x2.grad)
    assert x.grad[0, 0, 0, 0] == y[0, 0, 0, 0] and x.grad[0, 0, 0, 1] == 0  # to the first of the tie
    assert isinstance(pool, nn.MaxPool2d)


def test_identity_replaces_only_a_pool_that_pools_nothing():
    """A 4×4 map keeps Identity at the pool's index (same parameter names); a larger map pools."""
    small = cnn((1, 8, 8), 10, width=8)
    large = cnn((3, 32, 32), 10, width=8)
    assert isinstance(small[-3], nn.Identity)
    assert isinstance(large[-3], nn.AdaptiveAvgPool2d)
    names = [n for n, _ in small.named_parameters()]
    assert names[-2:] == [f"{len(small) - 1}.weight", f"{len(small) - 1}.bias"]
