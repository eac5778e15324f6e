"""End-of-run evaluation against a bare ``torch.no_grad()`` loop over the same images, interleaved.

Run: ``.venv/bin/python -m pytest benchmarks/bench_evaluate.py --benchmark-only -q``.
The data is ColoredMNIST-shaped (2x28x28 images of k / 255, as MNIST's are): 1,024 train,
256 val, 512 test_id and two OOD splits of 512; the model regbench's ``cnn`` (width 64,
group norm), whose first layer writes 200 KB per image.

- ``harness``: :func:`regbench.evaluate.classify.evaluate_classification`, every metric,
  the temperature fit and the membership attack included;
- ``bare``: each split once through the model in batches of 64 (DomainBed's evaluation batch),
  logits kept, and the one piece of evaluation that is not a forward pass done the plain way:
  the loss rise at ρ = 0.05 on the first 1,024 training images (``sharpness_at_0.05``, SAM's
  mechanism number, which every run records since issue #29: a gradient pass and a forward).

Before issue #28 the harness evaluated in batches of 1,024: each batch's activations were
mmapped afresh by glibc and page-faulted in (15-17 s of system time per ColoredMNIST run),
and val, test_id and a train subset went through the model twice.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from paired import run

from regbench.data.base import DatasetInfo, Examples, Splits
from regbench.evaluate.classify import evaluate_classification
from regbench.models import build_model

pytestmark = pytest.mark.threads(1)
BARE_BATCH = 64


def fake_colored_mnist() -> Splits:
    g = torch.Generator().manual_seed(0)

    def ex(n: int) -> Examples:
        x = torch.randint(0, 256, (n, 2, 28, 28), generator=g, dtype=torch.uint8).float().div_(255.0)
        return Examples(x, torch.randint(0, 2, (n,), generator=g))

    info = DatasetInfo(name="fake_colored_mnist", num_classes=2, input_shape=(2, 28, 28))
    return Splits(ex(1024), ex(256), ex(512), {"test_env": ex(512), "test_env2": ex(512)}, info, {})


def bare_evaluation(model: torch.nn.Module, splits: Splits) -> list[torch.Tensor]:
    model.eval()
    parts = [splits.train, splits.val, splits.test_id, *splits.ood.values()]
    with torch.no_grad():
        logits = [torch.cat([model(p.x[i : i + BARE_BATCH]) for i in range(0, len(p), BARE_BATCH)]) for p in parts]
    return logits + [bare_sharpness(model, splits.train.x[:1024], splits.train.y[:1024])]


def bare_sharpness(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, rho: float = 0.05) -> torch.Tensor:
    """L(w + ρ g/‖g‖) − L(w) on x (N, …), y (N,), the plain way: one gradient pass, one step, one forward."""
    params = [p for p in model.parameters() if p.requires_grad]
    loss = sum(
        F.cross_entropy(model(x[i : i + BARE_BATCH]), y[i : i + BARE_BATCH], reduction="sum")
        for i in range(0, len(x), BARE_BATCH)
    )
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        scale = rho / torch.sqrt(sum((g * g).sum() for g in grads))
        for p, g in zip(params, grads):
            p.add_(g * scale)
        stepped = sum(
            F.cross_entropy(model(x[i : i + BARE_BATCH]), y[i : i + BARE_BATCH], reduction="sum")
            for i in range(0, len(x), BARE_BATCH)
        )
        for p, g in zip(params, grads):
            p.sub_(g * scale)
    return (stepped - loss.detach()) / len(x)


def test_evaluation_vs_bare(benchmark):
    splits = fake_colored_mnist()
    model = build_model("cnn", splits.info, width=64, norm="group")
    cpu = torch.device("cpu")
    run(
        benchmark,
        lambda: evaluate_classification(model, splits, 0, cpu),
        lambda: bare_evaluation(model, splits),
        rounds=7,
        images=sum(len(p) for p in (splits.train, splits.val, splits.test_id, *splits.ood.values())),
        model="cnn width 64 group norm, 2x28x28",
        bare_batch=BARE_BATCH,
    )
