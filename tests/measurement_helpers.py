"""A model in mid-training state, and the check that a post-training measurement gave it back
untouched (tests/test_sharpness.py, tests/test_curvature.py)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def assert_leaves_model_as_found(measure: Callable[[nn.Module, torch.Tensor, torch.Tensor], float]) -> float:
    """Run ``measure(model, x (16, 1, 2, 2), y (16,))`` on a small conv net with BatchNorm and
    dropout, in training mode, holding a stale gradient (as training leaves one behind); assert
    the number is finite and non-zero and that the weights, the BatchNorm statistics, ``.grad``,
    the mode and the global random state are all as they were. Returns the number."""
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 2), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(), nn.Linear(4, 3)
    )
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(16, 1, 2, 2, generator=g), torch.arange(16) % 3
    model.train()
    model(x).sum().backward()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    rng = torch.get_rng_state()
    value = measure(model, x, y)
    assert value == value and value != 0.0  # measured, finite
    assert model.training  # its mode is given back
    assert torch.equal(torch.get_rng_state(), rng)  # no draw from the global generator
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # bit-identical, BN buffers too
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    return value
