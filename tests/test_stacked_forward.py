"""The stacked forward pass of S models against each model run alone (regbench.train.stacked_forward)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import stack_module_state

from regbench.data.base import DatasetInfo
from regbench.models import build_model
from regbench.train.stacked_forward import stacked_forwards


def info(shape, k):
    return DatasetInfo(name="d", num_classes=k, input_shape=shape)


def stacked(models):
    params, _ = stack_module_state(models)
    return list(params), list(params.values())


@pytest.mark.parametrize(
    "name,args",
    [
        ("mlp", {"width": 16, "depth": 2}),  # the direct batched-matmul path
        ("mlp", {"width": 16, "depth": 0}),  # logistic regression: Flatten → Linear
        ("mlp", {"width": 16, "norm": "layer"}),  # a norm: through vmap
        ("cnn", {"width": 8}),  # convolutions: through vmap
    ],
)
def test_stacked_forward_equals_each_model_alone(name, args):
    torch.manual_seed(0)
    models = [build_model(name, info((1, 8, 8), 10), **args) for _ in range(3)]
    names, params = stacked(models)
    per_seed, shared = stacked_forwards(models[0], names)
    x = torch.randn(3, 5, 1, 8, 8)  # (S, B, C, H, W): each seed its own batch
    out = per_seed(params, x)
    assert out.shape == (3, 5, 10)
    for s, m in enumerate(models):
        torch.testing.assert_close(out[s], m(x[s]), rtol=1e-5, atol=1e-5)
    xv = torch.randn(7, 1, 8, 8)  # one batch for every seed
    out = shared(params, xv)
    assert out.shape == (3, 7, 10)
    for s, m in enumerate(models):
        torch.testing.assert_close(out[s], m(xv), rtol=1e-5, atol=1e-5)


def test_stacked_mlp_draws_its_own_dropout_mask_per_seed():
    torch.manual_seed(0)
    models = [build_model("mlp", info((4,), 3), width=64, dropout=0.5) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())  # identical weights: only the masks can differ
    names, params = stacked(models)
    per_seed, _ = stacked_forwards(models[0].train(), names)
    x = torch.randn(1, 8, 4).expand(2, 8, 4)
    out = per_seed(params, x)
    assert not torch.allclose(out[0], out[1])
    models[0].eval()
    out = per_seed(params, x)
    torch.testing.assert_close(out[0], out[1])  # eval mode: no dropout, so the seeds agree


def test_a_sequential_with_another_module_goes_through_vmap():
    models = [nn.Sequential(nn.Linear(4, 4), nn.Softmax(-1)) for _ in range(2)]
    names, params = stacked(models)
    per_seed, _ = stacked_forwards(models[0], names)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(per_seed(params, x)[1], models[1](x[1]))
