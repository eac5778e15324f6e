"""The GPU code paths of the per-step hooks that avoid a host round-trip, checked on the CPU:
each gives what the CPU path gives (or the same distribution), so the GPU path is no
different experiment. The ``gpu`` sync guard is in tests/test_gpu_sync_guard.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from regbench.data.base import Examples
from regbench.data.scan import PAD, load_scan
from regbench.data.text_augment import random_deletion
from regbench.models import build_model
from regbench.regularizers.augment import _autoaugment_table, _randaugment_table, apply_actions, apply_actions_masked
from regbench.regularizers.mix import device_beta
from regbench.seeding import seeded_global_rng
from regbench.tasks.seq2seq import Seq2Seq


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("channels", [1, 3])
def test_masked_actions_give_the_grouped_images(channels):
    table, _ = _randaugment_table(15, 8, 8)
    actions = table.actions + _autoaugment_table("cifar10", 8, 8)[0].actions
    x = torch.rand(64, channels, 8, 8, generator=gen(0))
    action = torch.randint(-1, len(actions), (64,), generator=gen(1))
    masked = apply_actions_masked(x, action, actions)
    # equal up to batched float sums (per-image means over a batch of another size)
    torch.testing.assert_close(masked, apply_actions(x, action, actions), atol=1e-6, rtol=0)
    assert not torch.equal(masked, x)  # something was applied
    unchanged = action == -1
    assert unchanged.any() and torch.equal(masked[unchanged], x[unchanged])


@pytest.mark.parametrize("alpha", [0.2, 0.8, 1.0, 4.0])
def test_device_beta_draws_the_beta_distribution(alpha):
    lam = device_beta(gen(0), alpha, 200_000)
    ref = np.random.default_rng(0).beta(alpha, alpha, size=200_000)
    assert lam.dtype == torch.float64 and lam.shape == (200_000,)
    assert ((lam >= 0) & (lam <= 1)).all()
    qs = [0.05, 0.25, 0.5, 0.75, 0.95]
    np.testing.assert_allclose(np.quantile(lam.numpy(), qs), np.quantile(ref, qs), atol=0.01)
    assert abs(lam.var().item() - 1 / (4 * (2 * alpha + 1))) < 0.003
    assert torch.equal(device_beta(gen(0), alpha, 1000), device_beta(gen(0), alpha, 1000))  # seeded by g


def test_random_deletion_keeps_one_token_of_a_row_it_would_empty():
    src = torch.tensor([[5, 6, 7, PAD], [8, 9, PAD, PAD], [PAD, PAD, PAD, PAD]])
    out = random_deletion(src, 1.0, gen(0), PAD)  # p = 1: every token deleted, one kept per real row
    assert (out != PAD).sum(1).tolist() == [1, 1, 0]
    assert out[0, 0].item() in (5, 6, 7) and out[1, 0].item() in (8, 9)


def test_untrimmed_batches_give_the_trimmed_logits_where_they_are_scored():
    """Off the CPU, Seq2Seq.forward keeps trailing PAD columns (no host read of the length)."""
    loaded = load_scan(0, "simple", max_train=64)
    ex: Examples = loaded.parts["train"]
    x, y = ex.x[:16], ex.y[:16]
    with seeded_global_rng(0, "init"):
        model = build_model("seq2seq", loaded.info, width=16, depth=1, heads=2).eval()
    task = Seq2Seq(PAD)
    trimmed = task.forward(model, x, y)  # CPU: trimmed to the longest row
    assert trimmed.shape[1] < y.shape[1] - 1  # SCAN pads to 50: trimming did something
    with torch.no_grad():
        full = model(x, y[:, :-1]).float()
    labels = y[:, 1:]
    scored = (labels != PAD)[:, : trimmed.shape[1]]
    torch.testing.assert_close(full[:, : trimmed.shape[1]][scored], trimmed.detach()[scored], atol=1e-5, rtol=1e-5)
    assert not (labels[:, trimmed.shape[1] :] != PAD).any()  # the extra positions are never scored
