"""Per-sample SpecAugment masking: regbench's batched masks vs a bare loop doing the same masks.

Run: ``.venv/bin/python -m pytest benchmarks/bench_specaugment.py --benchmark-only -q``.
A batch of 256 log-mel spectrograms (1 × 40 × 63: the audio models' 1 s at 8 kHz) and
one fixed draw of the scaled LD masks (F = 14, m_F = 2, T = 5, m_T = 2):

- ``test_batched``: ``apply_masks`` — two (B, m, size) comparisons and one ``masked_fill``;
- ``test_bare_loop``: a Python loop over samples and masks slicing each band and frame to 0,
  as a per-example augmentation would (the result is asserted equal to the batched one);
- ``test_draw_and_apply``: drawing the masks from the generator plus applying them (what
  one training step pays), and ``test_time_warp``: the optional batched warp (W = 4);
- ``test_log_mel``: the models' front end on 256 one-second 8 kHz waveforms (STFT + mel
  matmul + standardization), the price of computing features in the model.
"""

from __future__ import annotations

import platform

import pytest
import torch

from regbench.models.audio_features import LogMel
from regbench.regularizers.specaugment import MaskDraw, apply_masks, draw_masks, scaled_ld, time_warp
from regbench.seeding import torch_generator

BATCH, M, T = 256, 40, 63
POLICY = scaled_ld(M, T)


# One thread: on the shared 2-core machine two OpenMP threads wait on each other in every
# small op (the batched masks took 60 ms with 2 threads under load, 1.8 ms with 1).
# benchmarks/conftest.py sets it before each test and restores the process's count after.
pytestmark = pytest.mark.threads(1)


@pytest.fixture(scope="module")
def spec():
    return torch.randn(BATCH, 1, M, T, generator=torch_generator("bench", "specaugment")) + 5.0


@pytest.fixture(scope="module")
def draw():
    return draw_masks(BATCH, M, T, POLICY, torch_generator("bench", "specaugment", "draw"))


def bare_loop(spec: torch.Tensor, draw: MaskDraw) -> torch.Tensor:
    out = spec.clone()
    for i in range(len(spec)):
        for s, w in zip(draw.freq_start[i].tolist(), draw.freq_width[i].tolist()):
            out[i, :, s : s + w, :] = 0.0
        for s, w in zip(draw.time_start[i].tolist(), draw.time_width[i].tolist()):
            out[i, :, :, s : s + w] = 0.0
    return out


def _record(benchmark, impl: str) -> None:
    benchmark.extra_info.update(
        impl=impl,
        shape=f"{BATCH}x1x{M}x{T}",
        policy=vars(POLICY),
        device="cpu",
        cpu=platform.processor() or platform.machine(),
        torch_threads=torch.get_num_threads(),
    )
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["ms_per_batch"] = 1e3 * benchmark.stats.stats.median


def test_batched(benchmark, spec, draw):
    out = benchmark(apply_masks, spec, draw)
    assert torch.equal(out, bare_loop(spec, draw))
    _record(benchmark, "batched masks")


def test_bare_loop(benchmark, spec, draw):
    out = benchmark(bare_loop, spec, draw)
    assert torch.equal(out, apply_masks(spec, draw))
    _record(benchmark, "bare per-sample loop")


def test_draw_and_apply(benchmark, spec):
    g = torch_generator("bench", "specaugment", "step")
    out = benchmark(lambda: apply_masks(spec, draw_masks(BATCH, M, T, POLICY, g)))
    assert out.shape == spec.shape
    _record(benchmark, "draw + batched masks")


def test_time_warp(benchmark, spec):
    g = torch_generator("bench", "specaugment", "warp")
    out = benchmark(time_warp, spec, POLICY.warp, g)
    assert out.shape == spec.shape
    _record(benchmark, "batched time warp")


def test_log_mel(benchmark):
    wave = torch.randn(BATCH, 1, 8000, generator=torch_generator("bench", "logmel"))
    frontend = LogMel(8000)
    out = benchmark(frontend, wave)
    assert out.shape == (BATCH, 1, M, T)
    _record(benchmark, "log-mel front end")
