"""SCAN training through the harness (seq2seq task) against a bare PyTorch loop, in tokens/s.

Same model (the suite's width-32, one-layer encoder–decoder), data (1,000 `simple`
commands), optimizer, batch size, per-batch padding trim and per-epoch validation (token
loss and teacher-forced exact match), in the same process; the ratio of medians is the
harness's overhead for sequence tasks. ``tokens_per_s`` counts scored target tokens
(actions + EOS) per second of training. Run with
``pytest benchmarks/bench_seq_harness.py --benchmark-only``. The ratio to quote is
``test_seq2seq_train_loop_interleaved``'s (rounds alternate; ``make perf`` prints it at the end).
"""

from __future__ import annotations

import platform

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import paired
from regbench.config import TrainSpec
from regbench.data.base import TrainingData
from regbench.data.scan import PAD, load_scan
from regbench.models import build_model
from regbench.regularizers.erm import ERM
from regbench.regularizers.stack import Stack
from regbench.train.loop import train

EPOCHS, BATCH = 2, 64
MODEL = {"width": 32, "depth": 1, "heads": 4}


@pytest.fixture(scope="module")
def scan():
    loaded = load_scan(0, "simple", max_train=1000)
    val = loaded.parts["val"].subset(torch.arange(300))
    return TrainingData(loaded.parts["train"], val, loaded.info)


def _trim(ids: torch.Tensor) -> torch.Tensor:
    return ids[:, : int((ids != PAD).sum(1).max())]


def bare_loop(model: nn.Module, data: TrainingData, epochs: int) -> float:
    """What a user would write: randperm slices, trimmed padding, teacher forcing, Adam."""
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y, xv, yv = data.train.x, data.train.y, data.val.x, data.val.y
    val_loss = 0.0
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), BATCH):
            idx = perm[i : i + BATCH]
            xb, yb = _trim(x[idx]), _trim(y[idx])
            logits = model(xb, yb[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb[:, 1:].reshape(-1), ignore_index=PAD)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            yvt = _trim(yv)
            logits = model(_trim(xv), yvt[:, :-1])
            labels = yvt[:, 1:]
            val_loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=PAD
            ).item()
            ((logits.argmax(-1) == labels) | (labels == PAD)).all(1).double().mean().item()
    return val_loss


def harness(model: nn.Module, data: TrainingData, epochs: int) -> float:
    spec = TrainSpec(epochs=epochs, batch_size=BATCH, lr=3e-3)
    return train(model, data, Stack([ERM()]), spec, seed=0).history.val_loss[-1]


@pytest.mark.parametrize("loop", ["bare", "harness"])
def test_seq2seq_train_loop(benchmark, scan, loop):
    torch.manual_seed(0)
    fn = bare_loop if loop == "bare" else harness
    tokens = int((scan.train.y[:, 1:] != PAD).sum()) * EPOCHS
    benchmark.group = f"scan-simple-1000-{EPOCHS}ep"

    def setup():
        return (build_model("seq2seq", scan.info, **MODEL), scan, EPOCHS), {}

    benchmark.pedantic(fn, setup=setup, rounds=5, warmup_rounds=1)
    benchmark.extra_info.update(
        {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "epochs": EPOCHS,
            "target_tokens": tokens,
        }
    )
    if benchmark.stats is not None:  # None under --benchmark-disable: nothing was timed
        benchmark.extra_info["tokens_per_s"] = tokens / benchmark.stats.stats.median


def test_seq2seq_train_loop_interleaved(benchmark, scan):
    """The ratio to quote: harness and bare rounds alternating in this process (``benchmarks/paired.py``),
    5 rounds each after one warm-up round; ``test_seq2seq_train_loop`` times each side in a block."""

    def fresh():
        torch.manual_seed(0)
        return build_model("seq2seq", scan.info, **MODEL), scan, EPOCHS

    paired.run(benchmark, harness, bare_loop, rounds=5, setup=fresh, pair="scan-simple-1000")
