"""The loss rise at a fixed radius in the ascent direction: every classification run's sharpness.

SAM and ASAM exist to find weights whose loss rises little when the weights move (Foret et
al. 2021, arXiv:2010.01412); their mechanism number must therefore be measured the same way for
them and for erm. Their own in-training tally (``sharpness``, regularizers/sam.py) exists only
for them, at their own ρ, on augmented batches in training mode. This module measures, after
training, on the final (selected) weights of every run:

    sharpness_at_0.05 = L(w + ρ g / ‖g‖) − L(w),   g = ∇L(w),   ρ = :data:`REFERENCE_RHO`

with L the mean cross-entropy over the first :data:`REFERENCE_EXAMPLES` clean training
examples (a fixed, deterministic subset: the same for every regularizer and seed of a
benchmark), in eval mode and fp32 (no autocast: the number is a small difference of two
losses). It draws no random numbers, leaves the weights bit-identical (restored by copy, not by
subtracting the step) and the BatchNorm statistics untouched (eval mode), and never touches
``.grad`` (``torch.autograd.grad``), so every other metric of the run is what it was without it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from regbench.evaluate.records import eval_batch_size

REFERENCE_RHO = 0.05  # SAM's CIFAR radius (Foret et al. 2021, §3.1), the default of `sam`
REFERENCE_EXAMPLES = 1024
METRIC = "sharpness_at_0.05"
EPSILON = 1e-12  # keeps ρ / ‖g‖ finite at a zero gradient (then the step is zero and the rise 0)


DEVICE_GRAD_BATCH = 128  # off the CPU the gradient pass keeps every activation: start here, halve on OOM


def loss_rise(model: nn.Module, x: torch.Tensor, y: torch.Tensor, rho: float = REFERENCE_RHO) -> float:
    """L(w + ρ g/‖g‖) − L(w) of ``model`` on inputs x (N, …) and labels y (N,) int64.

    L is the mean cross-entropy over all N examples, g its gradient over every parameter that
    requires one (an unused parameter has g = 0). Batches: on the CPU
    :func:`regbench.evaluate.records.eval_batch_size`; elsewhere :data:`DEVICE_GRAD_BATCH`
    for the gradient pass, halved on an out-of-memory error (large inputs, large models). The
    model is evaluated in eval mode and left in the mode it was in; its weights come back
    bit-identical. One device sync (the result).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if len(x) == 0 or not params:
        return 0.0
    was_training = model.training
    model.eval()
    batch = eval_batch_size(model, x)
    try:
        grad_batch = batch if x.device.type == "cpu" else min(batch, DEVICE_GRAD_BATCH)
        while True:
            try:
                loss_at_w, grads = _loss_and_gradient(model, params, x, y, grad_batch)
                break
            except torch.cuda.OutOfMemoryError:
                if grad_batch == 1:
                    raise
                grad_batch //= 2
        with torch.no_grad():
            # grads holds N·g (sums, not means): ρ (N g) / ‖N g‖ is the same step
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            scale = rho / (norm + EPSILON)
            saved = [p.detach().clone() for p in params]
            try:
                torch._foreach_add_(params, [g * scale for g in grads])
                loss_at_step = torch.zeros((), device=x.device)
                for i in range(0, len(x), batch):
                    loss_at_step += F.cross_entropy(model(x[i : i + batch]).float(), y[i : i + batch], reduction="sum")
            finally:
                for p, w in zip(params, saved, strict=True):
                    p.copy_(w)
        return float((loss_at_step - loss_at_w) / len(x))
    finally:
        model.train(was_training)


def _loss_and_gradient(
    model: nn.Module, params: list[nn.Parameter], x: torch.Tensor, y: torch.Tensor, batch: int
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(summed cross-entropy over x (N, …), y (N,): a 0-d tensor; its gradient, one tensor per
    parameter in ``params``, shaped like it), in batches of ``batch``; ``.grad`` is not touched."""
    total = torch.zeros((), device=x.device)
    grads = [torch.zeros_like(p) for p in params]
    for i in range(0, len(x), batch):
        summed = F.cross_entropy(model(x[i : i + batch]).float(), y[i : i + batch], reduction="sum")
        parts = torch.autograd.grad(summed, params, allow_unused=True)
        for g, part in zip(grads, parts, strict=True):
            if part is not None:
                g.add_(part)
        total += summed.detach()
    return total, grads


def reference_sharpness(model: nn.Module, train_x: torch.Tensor, train_y: torch.Tensor, device: torch.device) -> float:
    """:func:`loss_rise` at :data:`REFERENCE_RHO` on the first :data:`REFERENCE_EXAMPLES` of the
    clean training set (train_x (N, …), train_y (N,) int64, on any device; moved to ``device``)."""
    x = train_x[:REFERENCE_EXAMPLES].to(device)
    y = train_y[:REFERENCE_EXAMPLES].to(device)
    return loss_rise(model, x, y, REFERENCE_RHO)
