"""Cost of environment-balanced batches against today's shuffled batches, for ERM on colored_mnist.

Run: ``.venv/bin/python -m pytest benchmarks/bench_env_batches.py --benchmark-only -q``.
The data is colored_mnist on digits (988 training examples in 2 environments); the model the
suite's MLP (width 390, depth 2). Two measurements, each under both orders:

- ``order``: drawing one epoch's batch indices alone (batch 128: 8 steps);
- ``epoch``: one whole training epoch of ERM (batch 128), through ``regbench.train.train``.
  ERM needs no environments, so the balanced order is asked for by adding a member that
  declares ``needs_envs`` and has no hooks: the steps differ only in which examples they hold.
"""

from __future__ import annotations

import platform

import pytest
import torch

from regbench.config import TrainSpec
from regbench.data.digits import load_digits
from regbench.models import build_model
from regbench.regularizers.base import Regularizer
from regbench.regularizers.stack import Stack
from regbench.shifts.colored_mnist import ColoredMNIST
from regbench.train.batches import EnvBalancedBatches, ShuffledBatches
from regbench.train.loop import train


class AsksForEnvs(Regularizer):
    """No hooks: only makes the trainer draw environment-balanced batches."""

    needs_envs = True


# One intra-op thread for every test here; benchmarks/conftest.py sets it per test and restores it after.
pytestmark = pytest.mark.threads(1)


@pytest.fixture(scope="module")
def data():
    return ColoredMNIST().apply(load_digits(0), 0).training_data()


@pytest.mark.parametrize("how", ["shuffled", "balanced"])
def test_order(benchmark, data, how):
    env = data.train.meta["env"]
    order = EnvBalancedBatches(env, 128) if how == "balanced" else ShuffledBatches(len(env), 128)
    g = torch.Generator().manual_seed(0)
    benchmark.extra_info.update(how=how, n=len(env), batch=128, cpu=platform.processor() or platform.machine())
    benchmark.pedantic(order.epoch, args=(g,), rounds=200, iterations=5)


@pytest.mark.parametrize("how", ["shuffled", "balanced"])
def test_epoch(benchmark, data, how):
    stack_members = [AsksForEnvs()] if how == "balanced" else []

    def one_epoch():
        model = build_model("mlp", data.info, width=390, depth=2)
        train(model, data, Stack(list(stack_members)), TrainSpec(epochs=1, batch_size=128), seed=0)

    benchmark.extra_info.update(how=how, n=len(data.train), batch=128, threads=1)
    benchmark.pedantic(one_epoch, rounds=10, iterations=1, warmup_rounds=1)
