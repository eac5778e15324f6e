"""The harness's training loop against a bare hand-written PyTorch loop doing the same work.

Same model, data, optimizer, batch size, epochs and per-epoch validation, in the same
process; the ratio of medians is the harness's overhead (goal: ≤ 1.05). Run with
``make perf`` (or ``pytest benchmarks/bench_harness.py --benchmark-only``). The ratio to quote
is ``test_train_loop_interleaved``'s (rounds alternate; ``make perf`` prints it at the end):
``test_train_loop`` times each side's rounds in a block, which load can hit on one side only.
"""

from __future__ import annotations

import platform

import pytest
import torch
from torch import nn

import paired
from regbench.config import TrainSpec
from regbench.data.base import TrainingData
from regbench.data.digits import load_digits
from regbench.models.cnn import cnn
from regbench.models.mlp import mlp
from regbench.regularizers.erm import ERM
from regbench.regularizers.stack import Stack
from regbench.train.loop import train

EPOCHS = {"mlp": 10, "cnn": 3}
BUILD = {"mlp": mlp, "cnn": cnn}


@pytest.fixture(scope="module")
def digits():
    loaded = load_digits(0)
    return TrainingData(loaded.parts["train"], loaded.parts["val"], loaded.info)


def bare_loop(model: nn.Module, data: TrainingData, epochs: int, batch_size: int = 128) -> float:
    """What a user would write: randperm slicing, cross-entropy, Adam, validation each epoch."""
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y, xv, yv = data.train.x, data.train.y, data.val.x, data.val.y
    val_loss = 0.0
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_loss = nn.functional.cross_entropy(model(xv), yv).item()
    return val_loss


def harness(model: nn.Module, data: TrainingData, epochs: int) -> float:
    spec = TrainSpec(epochs=epochs, batch_size=128, lr=1e-3)
    return train(model, data, Stack([ERM()]), spec, seed=0).history.val_loss[-1]


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("loop", ["bare", "harness"])
def test_train_loop(benchmark, digits, arch, loop):
    torch.manual_seed(0)
    fn = bare_loop if loop == "bare" else harness
    benchmark.group = f"digits-{arch}-{EPOCHS[arch]}ep"
    benchmark.extra_info.update(
        {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(), "epochs": EPOCHS[arch]}
    )

    def setup():
        return (BUILD[arch](digits.info.input_shape, 10), digits, EPOCHS[arch]), {}

    benchmark.pedantic(fn, setup=setup, rounds=7, warmup_rounds=1)


def _fresh(arch: str, data: TrainingData) -> tuple:
    torch.manual_seed(0)
    return BUILD[arch](data.info.input_shape, 10), data, EPOCHS[arch]


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_train_loop_interleaved(benchmark, digits, arch):
    """The ratio to quote: harness and bare rounds alternating in this process (``benchmarks/paired.py``),
    9 rounds each after one warm-up round, at the process's thread count like ``test_train_loop``."""
    paired.run(benchmark, harness, bare_loop, rounds=9, setup=lambda: _fresh(arch, digits), pair=f"digits-{arch}")


def interleaved(arch: str = "mlp", rounds: int = 12, threads: int = 1) -> dict[str, float]:
    """Harness and bare rounds alternating in one process: ratios of medians and of minimums.

    Wall and this process's CPU seconds; on a machine shared with other jobs the CPU ratio
    is the one load distorts least.
    """
    torch.set_num_threads(threads)
    loaded = load_digits(0)
    data = TrainingData(loaded.parts["train"], loaded.parts["val"], loaded.info)
    r = paired.interleave(harness, bare_loop, rounds, 1, lambda: _fresh(arch, data))
    return {
        "wall median ratio": r["ratio"],
        "wall min ratio": r["min_ratio"],
        "wall bare median s": r["bare_median_s"],
        "cpu median ratio": r["cpu_ratio"],
        "cpu min ratio": r["cpu_min_ratio"],
        "cpu bare median s": r["bare_cpu_median_s"],
    }


if __name__ == "__main__":  # `python benchmarks/bench_harness.py [mlp|cnn] [ROUNDS] [THREADS]`
    import sys

    args = sys.argv[1:]
    result = interleaved(
        args[0] if args else "mlp", int(args[1]) if len(args) > 1 else 12, int(args[2]) if len(args) > 2 else 1
    )
    print(", ".join(f"{k} {v:.3f}" for k, v in result.items()))
