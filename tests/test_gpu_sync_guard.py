"""A per-step GPU sync guard, per regularizer (marked gpu: needs a CUDA GPU).

``torch.cuda.set_sync_debug_mode("warn")`` warns at every synchronizing CUDA call. An epoch
has a few legitimate ones (the data moving up once, the loss and accuracy read at its end,
validation); a hook that syncs inside the step adds one per step. So each regularizer
trains one epoch of 2 steps and one of 4, after a warm-up epoch (one-time copies of cached
tables to the device), and the two counts must be equal. The CPU-only counterpart is the
fake-CUDA tier (tests/test_fake_cuda.py), which counts value reads but cannot see syncs
inside torch or torchvision.

Run on a GPU machine:  pytest -m gpu tests/test_gpu_sync_guard.py -v
"""

from __future__ import annotations

import warnings

import pytest
import torch
from tiny_workloads import BATCH, model_for, splits_for, stack_of

from regbench.catalog import registries
from regbench.config import TrainSpec
from regbench.train.loop import train

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none visible to torch)")


def epoch_syncs(name: str, steps: int) -> int:
    """Synchronizing CUDA calls during one training epoch of ``steps`` batches."""
    stack = stack_of(name)
    splits = splits_for(stack, steps)
    model = model_for(splits, stack).cuda()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            train(model, splits.training_data(), stack, TrainSpec(epochs=1, batch_size=BATCH), 0, torch.device("cuda"))
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchronizing" in str(w.message) for w in caught)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("name", registries()["regularizers"].names())
def test_no_gpu_sync_inside_a_training_step(name):
    epoch_syncs(name, 1)  # warm-up: per-device caches, cuDNN autotuning, lazy CUDA modules
    two, four = epoch_syncs(name, 2), epoch_syncs(name, 4)
    assert four == two, f"{name}: {four - two} more syncs over 2 more steps: a GPU sync per step"
