"""End-of-run evaluation against a bare ``torch.no_grad()`` loop over the same images, interleaved.

Run: ``.venv/bin/python -m pytest benchmarks/bench_evaluate.py --benchmark-only -q``.
The data is ColoredMNIST-shaped (2x28x28 images of k / 255, as MNIST's are): 1,024 train,
256 val, 512 test_id and two OOD splits of 512; the model regbench's ``cnn`` (width 64,
group norm), whose first layer writes 200 KB per image.

- ``harness``: :func:`regbench.evaluate.classify.evaluate_classification`, every metric,
  the temperature fit and the membership attack included;
- ``bare``: each split once through the model in batches of 64 (DomainBed's evaluation batch),
  logits kept, nothing else.

Before issue #28 the harness evaluated in batches of 1,024: each batch's activations were
mmapped afresh by glibc and page-faulted in (15-17 s of system time per ColoredMNIST run),
and val, test_id and a train subset went through the model twice.
"""

from __future__ import annotations

import pytest
import torch
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


@torch.no_grad()
def bare_evaluation(model: torch.nn.Module, splits: Splits) -> list[torch.Tensor]:
    model.eval()
    parts = [splits.train, splits.val, splits.test_id, *splits.ood.values()]
    return [torch.cat([model(p.x[i : i + BARE_BATCH]) for i in range(0, len(p), BARE_BATCH)]) for p in parts]


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
