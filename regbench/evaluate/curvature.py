"""The top eigenvalue of the training loss's Hessian: the mechanism number of SAM and ASAM.

SAM minimizes the loss in a neighbourhood of the weights; what it is meant to reach is a minimum
of low curvature, and its paper shows it so: the top Hessian eigenvalue λ_max at the end of
training (Foret et al. 2021, arXiv:2010.01412, §4.2 and Fig. 3: λ_max 24.2 with SAM against 62.9
without). The loss rise at a fixed radius (``sharpness_at_0.05``, regbench/evaluate/sharpness.py)
is ρ‖g‖ + ½ρ² ĝᵀHĝ + …: its first-order term grows with the training gradient, so a run that
fits its noisy training labels less tightly than erm (as SAM does on the ood suite's
colored_mnist: train NLL 0.13 against erm's 0.019) reads as "sharper" by that number even where
its curvature is lower (λ_max 6.9 against 10.7, measured on 3 seeds). λ_max has no first-order
term.

    hessian_max_eigenvalue = the eigenvalue of ∇²L(w) of largest magnitude

with L the mean cross-entropy over the first :data:`EXAMPLES` clean training examples (the
subset ``sharpness_at_0.05`` uses), in eval mode and fp32, by :data:`ITERATIONS` steps of power
iteration on Hessian-vector products (Pearlmutter's double backward) from a fixed start drawn
by its own generator. At a trained minimum the eigenvalue of largest magnitude is the top one.
Like the sharpness it draws nothing from the global random state, never touches ``.grad``
(``torch.autograd.grad``) and leaves the weights and BatchNorm statistics as they were.

Attention runs on PyTorch's math kernel while it is measured: the fused scaled-dot-product
kernels have no second derivative. A model with another operation that has none gets NaN (no
mechanism verdict), never a failed run.

It costs 20 Hessian-vector products (up to about 2 s of CPU per run for the ood suite's CNNs,
where the loss rise costs 0.1 s), so it is measured only for the rows that read it: erm (the
reference) and the sharpness regularizers (:data:`MEASURED_FOR`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from regbench.evaluate.records import eval_batch_size
from regbench.evaluate.sharpness import DEVICE_GRAD_BATCH

METRIC = "hessian_max_eigenvalue"
EXAMPLES = 1024  # the subset sharpness_at_0.05 uses: the same for every regularizer and seed
# 10 and 20 steps agree to 2 % on the ood suite's 36 erm/sam/asam runs; 20 leave a margin
ITERATIONS = 20
START_SEED = 0  # the start vector's own generator: the global random state is never drawn from
# the row kinds whose mechanism reads it (harness/applicability.py's kinds): erm's row is the
# reference, SAM and ASAM are judged against it
MEASURED_FOR = ("baseline", "sharpness")


def measured_for(kind: str | None) -> bool:
    """Is the top Hessian eigenvalue recorded for a run of this row kind?"""
    return kind in MEASURED_FOR


def top_eigenvalue(model: nn.Module, x: torch.Tensor, y: torch.Tensor, iterations: int = ITERATIONS) -> float:
    """The eigenvalue of largest magnitude of ∇²L(w), L the mean cross-entropy of ``model`` on
    inputs x (N, …) and labels y (N,) int64, over every parameter that requires a gradient.

    Power iteration: v ← Hv / ‖Hv‖ from a fixed unit start, returning the Rayleigh quotient
    vᵀHv of the last step. Hv is summed over batches of
    :func:`regbench.evaluate.records.eval_batch_size` (on the CPU; elsewhere the sharpness pass's
    ``DEVICE_GRAD_BATCH``), so memory is one batch's double backward. The model is evaluated in eval mode and left in the mode it
    was in, weights untouched. One device sync per iteration. NaN when an operation of the
    model has no second derivative (attention is switched to the math kernel, which has one).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if len(x) == 0 or not params:
        return 0.0
    was_training = model.training
    model.eval()
    batch = eval_batch_size(model, x) if x.device.type == "cpu" else DEVICE_GRAD_BATCH
    try:
        gen = torch.Generator().manual_seed(START_SEED)
        v = [torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) for p in params]
        v = _normalized(v)
        value = 0.0
        with sdpa_kernel(SDPBackend.MATH):  # the fused attention kernels have no double backward
            # one batch (the CPU case: 1,024 examples fit one evaluation batch): its gradient
            # graph is built once and differentiated again each iteration, instead of a forward
            # and a first backward per iteration; the same operations on the same values, so
            # the same numbers (tests/test_curvature.py compares the two paths bit for bit)
            graph = _gradient_graph(model, params, x, y) if len(x) <= batch else None
            for _ in range(iterations):
                if graph is None:
                    hv = _hessian_vector_product(model, params, x, y, v, batch)
                else:
                    hv = [t / len(x) for t in _graph_product(params, graph, v, retain=True)]
                value = float(sum((h * u).sum() for h, u in zip(hv, v, strict=True)))
                v = _normalized(hv)
        return value
    except RuntimeError as err:
        if "not implemented" not in str(err):
            raise
        return math.nan  # an op without a second derivative: no number, so no verdict
    finally:
        model.train(was_training)


def _normalized(v: list[torch.Tensor]) -> list[torch.Tensor]:
    """v / ‖v‖ over all tensors together (a zero vector stays zero)."""
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in v]))
    return [t / (norm + 1e-30) for t in v]


def _hessian_vector_product(
    model: nn.Module, params: list[nn.Parameter], x: torch.Tensor, y: torch.Tensor, v: list[torch.Tensor], batch: int
) -> list[torch.Tensor]:
    """H v of the mean cross-entropy over x (N, …), y (N,), one tensor per parameter, shaped like
    it; summed over batches of ``batch`` (a parameter the loss does not reach has Hv = 0)."""
    out = [torch.zeros_like(p) for p in params]
    for i in range(0, len(x), batch):
        graph = _gradient_graph(model, params, x[i : i + batch], y[i : i + batch])
        for t, part in zip(out, _graph_product(params, graph, v, retain=False), strict=True):
            t.add_(part)
    return [t / len(x) for t in out]


def _gradient_graph(model: nn.Module, params: list[nn.Parameter], x: torch.Tensor, y: torch.Tensor) -> list:
    """[(parameter index, ∇ of the summed cross-entropy over x (B, …), y (B,), with its graph)]
    for the parameters the loss reaches."""
    summed = F.cross_entropy(model(x).float(), y, reduction="sum")
    grads = torch.autograd.grad(summed, params, create_graph=True, allow_unused=True)
    return [(j, g) for j, g in enumerate(grads) if g is not None and g.requires_grad]


def _graph_product(params: list[nn.Parameter], graph: list, v: list[torch.Tensor], retain: bool) -> list:
    """∂/∂w (g · v) per parameter from ``_gradient_graph``'s ``graph`` (summed over its batch);
    zeros where the loss does not reach. ``retain`` keeps the graph for another product."""
    out = [torch.zeros_like(p) for p in params]
    if not graph:
        return out
    dot = sum((g * v[j]).sum() for j, g in graph)
    parts = torch.autograd.grad(dot, [params[j] for j, _ in graph], allow_unused=True, retain_graph=retain)
    for (j, _), part in zip(graph, parts, strict=True):
        if part is not None:
            out[j].add_(part.detach())
    return out


def reference_curvature(model: nn.Module, train_x: torch.Tensor, train_y: torch.Tensor, device: torch.device) -> float:
    """:func:`top_eigenvalue` on the first :data:`EXAMPLES` of the clean training set
    (train_x (N, …), train_y (N,) int64, on any device; moved to ``device``)."""
    x = train_x[:EXAMPLES].to(device)
    y = train_y[:EXAMPLES].to(device)
    return top_eigenvalue(model, x, y)
