"""Acoustic conditions applied to waveforms: additive noise at an SNR and room reverberation.

Every function is batched over utterances, draws its randomness from the generator it is
given, and works on (N, L) float32 waveforms. The dataset (training conditions) and the
acoustic shifts (test conditions) both use these, so one factor means one thing everywhere.

- Noise: white (flat spectrum), pink (power ∝ 1/f, shaped in the frequency domain) and
  babble-like (a sum of several other talkers, circularly shifted: the speech-shaped,
  fluctuating noise of a crowded room). Mixed at an SNR measured over the whole window.
- Reverberation: a synthetic room impulse response per utterance, a direct path plus
  exponentially decaying Gaussian noise whose energy falls by 60 dB after RT60 seconds
  (the stochastic tail model of Polack 1988, which image-source RIRs approach after the
  first reflections), applied by FFT convolution.
"""

from __future__ import annotations

import math

import torch

from regbench.data.names import NOISES  # named without torch for the shifts' parameters

BABBLE_TALKERS = 5  # talkers summed into one babble track (babble becomes noise-like from ~4 on)
RIR_MAX_SECONDS = 1.0  # the tail is cut here; at RT60 ≤ 1.5 s it has decayed by ≥ 40 dB
EPS = 1e-8


def white_noise(n: int, length: int, g: torch.Generator) -> torch.Tensor:
    """(N, L) Gaussian noise of unit variance."""
    return torch.randn(n, length, generator=g)


def pink_noise(n: int, length: int, g: torch.Generator) -> torch.Tensor:
    """(N, L) noise with power spectral density ∝ 1/f, scaled to unit variance.

    White noise's spectrum is multiplied by 1/√f (so power ∝ 1/f); the DC bin is zeroed.
    """
    spectrum = torch.fft.rfft(torch.randn(n, length, generator=g), dim=-1)
    f = torch.arange(spectrum.shape[-1], dtype=torch.float32)
    shaped = torch.fft.irfft(spectrum * torch.where(f > 0, f.clamp(min=1).rsqrt(), 0.0), n=length, dim=-1)
    return shaped / shaped.std(dim=-1, keepdim=True).clamp(min=EPS)


def babble_noise(talkers: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    """(N, L) babble: each row sums ``BABBLE_TALKERS`` random rows of ``talkers`` (P, L), each
    circularly shifted by a random lag so that words overlap at random; unit variance."""
    pool, length = talkers.shape
    pick = torch.randint(pool, (n, BABBLE_TALKERS), generator=g)  # (N, M) which talkers
    lag = torch.randint(length, (n, BABBLE_TALKERS, 1), generator=g)  # (N, M, 1) circular shifts
    idx = (torch.arange(length).view(1, 1, -1) + lag) % length  # (N, M, L)
    mixed = talkers[pick].gather(-1, idx).sum(dim=1)  # (N, L)
    return mixed / mixed.std(dim=-1, keepdim=True).clamp(min=EPS)


def make_noise(kind: torch.Tensor, length: int, g: torch.Generator, talkers: torch.Tensor) -> torch.Tensor:
    """(N, L) unit-variance noise of type ``NOISES[kind[i]]`` per row; kind: (N,) int64.

    ``talkers`` (P, L) are the utterances babble is made of. Every type is drawn for every
    row and each row keeps its own (three cheap draws, no per-row Python).
    """
    n = len(kind)
    if len(kind) and (kind.min() < 0 or kind.max() >= len(NOISES)):
        raise ValueError(f"noise index out of range 0..{len(NOISES) - 1} ({NOISES})")
    tracks = torch.stack([white_noise(n, length, g), pink_noise(n, length, g), babble_noise(talkers, n, g)])
    return tracks[kind, torch.arange(n)]


def mix_at_snr(speech: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """speech + noise scaled so that 10·log10(P_speech / P_noise) = snr_db per row.

    speech, noise: (N, L); snr_db: (N,) decibels; power is the mean square over the window.
    """
    p_speech = speech.pow(2).mean(dim=-1, keepdim=True)
    p_noise = noise.pow(2).mean(dim=-1, keepdim=True).clamp(min=EPS)
    scale = torch.sqrt(p_speech / (p_noise * 10 ** (snr_db.view(-1, 1) / 10)))
    return speech + scale * noise


def room_impulse_responses(rt60: torch.Tensor, sample_rate: int, g: torch.Generator) -> torch.Tensor:
    """(N, R) synthetic RIRs, unit energy; rt60: (N,) seconds (0 → a unit impulse).

    h[0] = 1 (the direct path), h[t] = e[t] · 10^(−3 t / (RT60 · sr)) for t ≥ 1 with e white
    Gaussian noise: the amplitude falls by 60 dB (10^−3) after RT60 seconds. R covers the
    longest RT60 asked for, capped at ``RIR_MAX_SECONDS``.
    """
    longest = float(rt60.max()) if len(rt60) else 0.0
    r = max(1, min(int(math.ceil(longest * sample_rate)), int(RIR_MAX_SECONDS * sample_rate)))
    t = torch.arange(r, dtype=torch.float32).view(1, -1)
    decay_samples = (rt60.float() * sample_rate).clamp(min=EPS).view(-1, 1)
    tail = torch.randn(len(rt60), r, generator=g) * torch.pow(10.0, -3.0 * t / decay_samples)
    tail = torch.where(rt60.view(-1, 1) > 0, tail, 0.0)
    tail[:, 0] = 1.0
    return tail / tail.norm(dim=-1, keepdim=True)


def reverberate(speech: torch.Tensor, rt60: torch.Tensor, sample_rate: int, g: torch.Generator) -> torch.Tensor:
    """(N, L) speech convolved with a synthetic RIR of RT60 ``rt60[i]`` seconds, same RMS as the input.

    Linear (not circular) convolution by FFT of length L + R − 1, cut back to the first L
    samples: the reverberant tail beyond the window is lost, as it would be for a 1 s clip.
    """
    n, length = speech.shape
    h = room_impulse_responses(rt60, sample_rate, g)
    size = length + h.shape[-1] - 1
    wet = torch.fft.irfft(torch.fft.rfft(speech, n=size) * torch.fft.rfft(h, n=size), n=size)[:, :length]
    rms_in = speech.pow(2).mean(dim=-1, keepdim=True).sqrt()
    rms_out = wet.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp(min=EPS)
    return wet * rms_in / rms_out
