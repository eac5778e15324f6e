"""Speed of every corruption at severity 3 on a batch of 256 3×32×32 images (CIFAR-sized).

Run: ``.venv/bin/python -m pytest benchmarks/bench_corruptions.py --benchmark-only -q``.
Each test benchmarks one corruption (pytest-benchmark's advice: one benchmarked function per
test) and records ``images_per_s`` and the hardware in ``benchmark.extra_info``. The
``bare_copy`` case is the floor: one clone of the batch, no corruption work.
"""

from __future__ import annotations

import platform

import pytest
import torch

from regbench.seeding import torch_generator
from regbench.shifts.corruptions import CORRUPTIONS, corrupt

BATCH, SEVERITY = 256, 3


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return torch.rand(BATCH, 3, 32, 32, generator=torch_generator("bench", "corruptions"))


def _record(benchmark, name: str) -> None:
    benchmark.extra_info.update(
        corruption=name,
        batch=BATCH,
        severity=SEVERITY,
        device="cpu",
        cpu=platform.processor() or platform.machine(),
        torch_threads=torch.get_num_threads(),
    )
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["images_per_s"] = BATCH / benchmark.stats.stats.mean


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_speed(benchmark, batch, name):
    g = torch_generator("bench", name)
    out = benchmark(corrupt, batch, name, SEVERITY, g)
    assert out.shape == batch.shape
    _record(benchmark, name)


def test_bare_copy_speed(benchmark, batch):
    out = benchmark(torch.clone, batch)
    assert out.shape == batch.shape
    _record(benchmark, "bare_copy")
