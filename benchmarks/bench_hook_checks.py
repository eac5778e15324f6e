"""Cost of the per-step hook checks of ``Stack`` (shape checks + on-device finiteness sums).

Run: ``.venv/bin/python -m pytest benchmarks/bench_hook_checks.py --benchmark-only -q``.
One training step (transform → forward → loss + penalty → backward → step) of a small CNN
on a 128×3×32×32 batch with a stack of a transform, a loss-side transform and a penalty
(label smoothing, a plugin-style penalty, L2), run three ways, one benchmarked function per
test: ``checked`` (the trainer's path through ``Stack``), ``unchecked`` (the same members'
hooks called directly, as the harness did before the checks) and ``bare`` (plain PyTorch:
cross-entropy only, no regularizer); and the regularizer side alone (``checked_hooks`` vs
``unchecked_hooks``: transform + loss + penalty, no forward/backward), which isolates the
checks' cost from the much larger and noisier model step.
"""

from __future__ import annotations

import platform

import pytest
import torch
from torch import nn

from regbench.regularizers.base import Batch, Regularizer, soft_cross_entropy
from regbench.regularizers.label_smoothing import LabelSmoothing
from regbench.regularizers.penalties import L2
from regbench.regularizers.stack import Stack


class LogitPenalty(Regularizer):
    """A plugin-style penalty (not a regbench module, so its transform outputs would be watched)."""

    def penalty(self, model, batch):
        return 0.05 * batch.logits.pow(2).sum(1).mean()


def setup():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    x = torch.rand(128, 3, 32, 32, generator=g)
    y = nn.functional.one_hot(torch.randint(10, (128,), generator=g), 10).float()
    return model, torch.optim.Adam(model.parameters()), x, y, g


def checked_step(model, opt, x, y, g, stack):
    xb, yb = stack.transform(x, y, g)
    logits = model(xb)
    # data_loss: the member's loss, else cross-entropy (Stack.loss returns None without one)
    loss = stack.data_loss(logits, yb) + stack.penalty(model, Batch(xb, yb, logits))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    stack.after_backward(model)
    opt.step()


def unchecked_step(model, opt, x, y, g, members):
    for m in members:
        x, y = m.transform(x, y, g)
    logits = model(x)
    loss = soft_cross_entropy(logits, y) + sum(m.penalty(model, Batch(x, y, logits)) for m in members)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def bare_step(model, opt, x, y, g, _):
    loss = soft_cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def checked_hooks(model, opt, x, y, g, stack):
    """Only the regularizer side of a step (no forward/backward): isolates the checks' cost."""
    xb, yb = stack.transform(x, y, g)
    logits = LOGITS
    return stack.data_loss(logits, yb) + stack.penalty(model, Batch(xb, yb, logits))


def unchecked_hooks(model, opt, x, y, g, members):
    for m in members:
        x, y = m.transform(x, y, g)
    return soft_cross_entropy(LOGITS, y) + sum(m.penalty(model, Batch(x, y, LOGITS)) for m in members)


LOGITS = torch.randn(128, 10, generator=torch.Generator().manual_seed(1))


@pytest.mark.threads(1)  # set by benchmarks/conftest.py, which restores the process's count after
@pytest.mark.parametrize("how", ["checked", "unchecked", "bare", "checked_hooks", "unchecked_hooks"])
def test_step(benchmark, how):
    model, opt, x, y, g = setup()
    members = [LabelSmoothing(0.1), LogitPenalty(), L2(1e-4)]
    step, arg = {
        "checked": (checked_step, Stack(members)),
        "unchecked": (unchecked_step, members),
        "bare": (bare_step, None),
        "checked_hooks": (checked_hooks, Stack(members)),
        "unchecked_hooks": (unchecked_hooks, members),
    }[how]
    for _ in range(3):  # warm-up
        step(model, opt, x, y, g, arg)
    benchmark.extra_info.update(how=how, batch=128, threads=1, cpu=platform.processor() or platform.machine())
    rounds, iterations = (30, 1) if how in ("checked", "unchecked", "bare") else (50, 20)
    benchmark.pedantic(step, args=(model, opt, x, y, g, arg), rounds=rounds, iterations=iterations)
