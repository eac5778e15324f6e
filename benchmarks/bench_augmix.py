"""AugMix views: regbench's batched chains vs a per-sample loop applying the same draws.

Run: ``.venv/bin/python -m pytest benchmarks/bench_augmix.py --benchmark-only -q``.
One training step's AugMix work on a batch of 128 images (two views each, so 256 AugMix
images of width 3 chains, depth 1-3, severity 3, the partial op table), for digits
(1 × 8 × 8) and CIFAR-sized (3 × 32 × 32) images, from one fixed draw:

- ``test_batched``: ``apply_augmix`` — the 3 chains of every image stacked into one tensor,
  one torchvision op call per distinct action drawn at each of the 3 chain steps;
- ``test_per_sample_loop``: the same draw applied image by image, chain by chain, op by op,
  as torchvision's ``AugMix`` does when called per image (asserted equal to the batched one);
- ``test_interleaved``: the two timed in alternating rounds (``benchmarks/paired.py``), whose
  ratio (batched / loop) ``make perf`` prints in its table.
"""

from __future__ import annotations

import platform

import paired
import pytest
import torch
from torchvision.transforms.v2 import InterpolationMode

from regbench.regularizers.augment import _op_kwargs, _tv_auto_augment
from regbench.regularizers.augmix import AugMixDraw, apply_augmix, augmix_table, draw_augmix
from regbench.seeding import torch_generator

VIEWS = 256  # a batch of 128, two views each
SHAPES = {"digits": (1, 8, 8), "cifar": (3, 32, 32)}

# one thread, as bench_specaugment: two OpenMP threads wait on each other in small ops on a
# shared 2-core machine (benchmarks/conftest.py restores the count after each test)
pytestmark = pytest.mark.threads(1)


@pytest.fixture(scope="module", params=sorted(SHAPES))
def case(request):
    c, h, w = SHAPES[request.param]
    x = torch.rand(VIEWS, c, h, w, generator=torch_generator("bench", "augmix", request.param))
    table, ids = augmix_table(3, False, h, w)
    draw = draw_augmix(torch_generator("bench", "augmix", "draw"), VIEWS, ids, 3, -1, 1.0, "cpu")
    return request.param, x, draw, table.actions


def per_sample_loop(x: torch.Tensor, draw: AugMixDraw, actions) -> torch.Tensor:
    """AugMix image by image: each chain's ops applied to one (1, C, H, W) image at a time."""
    tv = _tv_auto_augment()
    kwargs = _op_kwargs(tv, InterpolationMode.BILINEAR)
    depth, width, n = draw.action.shape
    out = torch.empty_like(x)
    for k in range(n):
        mixed = torch.zeros_like(x[k : k + 1])
        for i in range(width):
            chain = x[k : k + 1]
            for d in range(depth):
                a = int(draw.action[d, i, k])
                if a >= 0 and actions[a][0] != "Identity":
                    chain = tv._apply_image_or_video_transform(chain, *actions[a], **kwargs)
            mixed = mixed + draw.w[k, i] * chain
        out[k] = draw.m[k] * x[k] + (1.0 - draw.m[k]) * mixed[0]
    return out


def _record(benchmark, name: str, impl: str) -> None:
    benchmark.extra_info.update(
        impl=impl,
        shape=f"{VIEWS}x" + "x".join(map(str, SHAPES[name])),
        device="cpu",
        cpu=platform.processor() or platform.machine(),
        torch_threads=torch.get_num_threads(),
    )
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["ms_per_batch"] = 1e3 * benchmark.stats.stats.median


def test_batched(benchmark, case):
    name, x, draw, actions = case
    out = benchmark(apply_augmix, x, draw, actions)
    assert torch.allclose(out, per_sample_loop(x, draw, actions), atol=1e-5)
    _record(benchmark, name, "batched chains")


def test_per_sample_loop(benchmark, case):
    name, x, draw, actions = case
    out = benchmark.pedantic(per_sample_loop, args=(x, draw, actions), rounds=3, iterations=1)
    assert torch.allclose(out, apply_augmix(x, draw, actions), atol=1e-5)
    _record(benchmark, name, "per-sample loop")


def test_interleaved(benchmark, case):
    """batched / loop in alternating rounds: the "harness" side of ``paired`` is the batched one."""
    name, x, draw, actions = case
    result = paired.run(
        benchmark,
        lambda: apply_augmix(x, draw, actions),
        lambda: per_sample_loop(x, draw, actions),
        rounds=3,
        shape=f"{VIEWS}x" + "x".join(map(str, SHAPES[name])),
        pair=f"augmix batched vs per-sample loop ({name})",
    )
    assert result["ratio"] > 0
