"""Speed of one seq2seq training step on SCAN (tokens/s), ours vs torch.nn.Transformer.

Run: ``pytest benchmarks/bench_seq2seq.py --benchmark-only``. One benchmarked function per
test (pytest-benchmark's advice); the reference is torch's own nn.Transformer with the same
width, depth, heads and feed-forward size doing the same teacher-forced step.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from regbench.data.scan import PAD, SRC_VOCAB, TGT_VOCAB, load_scan
from regbench.models.seq2seq import Seq2SeqTransformer

BATCH = 64  # sequences per step
WIDTH, DEPTH, HEADS = 64, 2, 4  # the model's defaults


@pytest.fixture(scope="module")
def batch():
    train = load_scan(0, "simple").parts["train"]
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(train), (BATCH,), generator=g)
    x, y = train.x[idx], train.y[idx]
    # Trim padding columns to the batch's longest sequence, as a training loop should.
    x = x[:, : int((x != PAD).sum(1).max())]
    y = y[:, : int((y != PAD).sum(1).max())]
    return x, y


class TorchReference(torch.nn.Module):
    """The same shape of model from torch.nn.Transformer (pre-norm, GELU, 4×width FF)."""

    def __init__(self):
        super().__init__()
        self.src = torch.nn.Embedding(len(SRC_VOCAB), WIDTH)
        self.tgt = torch.nn.Embedding(len(TGT_VOCAB), WIDTH)
        self.pos = torch.nn.Parameter(torch.zeros(64, WIDTH), requires_grad=False)
        self.core = torch.nn.Transformer(
            WIDTH, HEADS, DEPTH, DEPTH, 4 * WIDTH, 0.1, activation="gelu", batch_first=True, norm_first=True
        )
        self.head = torch.nn.Linear(WIDTH, len(TGT_VOCAB), bias=False)

    def forward(self, src, tgt_in):
        lt = tgt_in.shape[1]
        mask = torch.nn.Transformer.generate_square_subsequent_mask(lt, dtype=torch.bool)
        s = self.src(src) * math.sqrt(WIDTH) + self.pos[: src.shape[1]]
        t = self.tgt(tgt_in) * math.sqrt(WIDTH) + self.pos[:lt]
        h = self.core(
            s,
            t,
            tgt_mask=mask,
            src_key_padding_mask=src == PAD,
            tgt_key_padding_mask=tgt_in == PAD,
            memory_key_padding_mask=src == PAD,
            tgt_is_causal=True,
        )
        return self.head(h)


def _step_fn(model, batch):
    x, y = batch
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step():
        logits = model(x, y[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, 1:].reshape(-1), ignore_index=PAD)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def _run(benchmark, model, batch):
    step = _step_fn(model, batch)
    for _ in range(3):  # warm-up: allocator and autograd caches
        step()
    benchmark.pedantic(step, rounds=20, iterations=1)
    x, y = batch
    tokens = int((y[:, 1:] != PAD).sum())  # scored target tokens per step
    benchmark.extra_info.update(
        batch=BATCH,
        src_len=x.shape[1],
        tgt_len=y.shape[1] - 1,
        target_tokens_per_step=tokens,
        # no stats under --benchmark-disable (make test's collection pass runs nothing timed)
        tokens_per_s=tokens / benchmark.stats.stats.mean if benchmark.stats else None,
        threads=torch.get_num_threads(),
    )
    assert torch.isfinite(step())


def test_step_regbench_transformer(benchmark, batch):
    torch.manual_seed(0)
    _run(benchmark, Seq2SeqTransformer(len(SRC_VOCAB), len(TGT_VOCAB), WIDTH, DEPTH, HEADS), batch)


def test_step_torch_nn_transformer(benchmark, batch):
    torch.manual_seed(0)
    _run(benchmark, TorchReference(), batch)
