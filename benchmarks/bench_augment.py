"""Per-sample augmentation speed: regbench's batched implementation vs torchvision v2.

Run: ``.venv/bin/python -m pytest benchmarks/bench_augment.py --benchmark-only -q``.
For each augmentation regularizer and a batch of 256 images (1×8×8 digits-sized and
3×32×32 CIFAR-sized, float in [0, 1]) three tests time one batch:

- ``test_per_sample``: regbench's transform (per-sample randomness, batched ops);
- ``test_v2_one_draw``: the matching torchvision v2 transform called once on the batch —
  the same cost class, but ONE random draw for the whole batch (docs/architecture.md, Measured here: Augmentation);
- ``test_v2_per_image_loop``: that v2 transform called per image (per pair for the mixing
  ones) and stacked — the usual way to get per-sample randomness; slow, so 3 rounds only.
"""

from __future__ import annotations

import platform

import pytest
import torch

from regbench.regularizers import REGULARIZERS, augment, mix  # noqa: F401 — importing registers
from regbench.regularizers.base import SetupContext
from regbench.seeding import torch_generator

BATCH, CLASSES = 256, 10
SHAPES = {"1x8x8": (1, 8, 8), "3x32x32": (3, 32, 32)}
NAMES = ["crop_flip", "color_jitter", "randaugment", "autoaugment", "mixup", "cutmix", "mixup_cutmix"]
MIXING = {"mixup", "cutmix", "mixup_cutmix"}


def v2_equivalent(name: str, shape: tuple[int, int, int]):
    """The torchvision v2 transform with the same defaults as regbench's ``name``."""
    from torchvision.transforms import v2

    side = shape[-1]
    return {
        "crop_flip": lambda: v2.Compose(
            [v2.RandomCrop(side, padding=max(1, round(side / 8))), v2.RandomHorizontalFlip()]
        ),
        "color_jitter": lambda: v2.ColorJitter(0.4, 0.4, 0.4),
        "randaugment": lambda: v2.RandAugment(num_ops=2, magnitude=9),
        "autoaugment": lambda: v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10),
        "mixup": lambda: v2.MixUp(alpha=0.2, num_classes=CLASSES),
        "cutmix": lambda: v2.CutMix(alpha=1.0, num_classes=CLASSES),
        "mixup_cutmix": lambda: v2.RandomChoice(
            [v2.MixUp(alpha=0.8, num_classes=CLASSES), v2.CutMix(alpha=1.0, num_classes=CLASSES)]
        ),
    }[name]()


@pytest.fixture(scope="module", params=list(SHAPES))
def data(request):
    shape = SHAPES[request.param]
    g = torch_generator("bench", "augment", request.param)
    x = torch.rand(BATCH, *shape, generator=g)
    labels = torch.randint(CLASSES, (BATCH,), generator=g)
    return request.param, shape, x, labels


def _record(benchmark, name: str, size: str, impl: str) -> None:
    benchmark.extra_info.update(
        regularizer=name,
        impl=impl,
        shape=size,
        batch=BATCH,
        device="cpu",
        cpu=platform.processor() or platform.machine(),
        torch_threads=torch.get_num_threads(),
    )
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["ms_per_batch"] = 1e3 * benchmark.stats.stats.median


@pytest.mark.parametrize("name", NAMES)
def test_per_sample(benchmark, data, name):
    size, shape, x, labels = data
    r = REGULARIZERS.get(name)()
    r.setup(SetupContext(num_classes=CLASSES, input_shape=shape, flip_invariant=True, epochs=1))
    y = torch.nn.functional.one_hot(labels, CLASSES).float()
    g = torch_generator("bench", name, size)
    out, _ = benchmark(r.transform, x, y, g)
    assert out.shape == x.shape
    _record(benchmark, name, size, "regbench per-sample")


@pytest.mark.parametrize("name", NAMES)
def test_v2_one_draw(benchmark, data, name):
    size, shape, x, labels = data
    t = v2_equivalent(name, shape)
    torch.manual_seed(0)  # v2 draws from the global RNG; benchmark code may seed it
    out = benchmark(t, x, labels) if name in MIXING else benchmark(t, x)
    assert (out[0] if name in MIXING else out).shape == x.shape
    _record(benchmark, name, size, "v2 one draw per batch")


def _loop(t, x: torch.Tensor, labels: torch.Tensor, mixing: bool) -> torch.Tensor:
    if mixing:  # per pair: sample i mixed with its successor, first output kept
        nxt = torch.arange(1, len(x) + 1) % len(x)
        return torch.stack([t(x[[i, j]], labels[[i, j]])[0][0] for i, j in enumerate(nxt.tolist())])
    return torch.stack([t(img) for img in x])


@pytest.mark.parametrize("name", NAMES)
def test_v2_per_image_loop(benchmark, data, name):
    size, shape, x, labels = data
    t = v2_equivalent(name, shape)
    torch.manual_seed(0)
    out = benchmark.pedantic(_loop, args=(t, x, labels, name in MIXING), rounds=3, iterations=1, warmup_rounds=1)
    assert out.shape == x.shape
    _record(benchmark, name, size, "v2 per-image loop")
