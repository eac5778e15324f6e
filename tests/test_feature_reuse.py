"""Penalties on features (CORAL, MMD, Fishr) reuse the training forward's features: one
forward per step, so BatchNorm's running statistics are updated once per step, not twice."""

from __future__ import annotations

import pytest
import torch
from tiny_workloads import BATCH, splits_for, stack_of

from regbench.catalog import registries
from regbench.config import TrainSpec
from regbench.train.loop import train


@pytest.mark.parametrize("name", ["erm", "coral", "mmd", "fishr"])
def test_one_batchnorm_update_per_step(name):
    stack = stack_of(name)
    splits = splits_for(stack, 3)
    torch.manual_seed(0)
    model = registries()["models"].get("cnn")((3, 16, 16), 4, norm="batch")
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append(module.training))
    train(model, splits.training_data(), stack, TrainSpec(epochs=1, batch_size=BATCH), 0, torch.device("cpu"))
    tracked = {int(m.num_batches_tracked) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    steps = calls.count(True)  # training-mode forwards of the whole model
    assert tracked == {steps}, f"{name}: BatchNorm saw {tracked} updates over {steps} training forwards"
