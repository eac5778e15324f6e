"""Log-mel spectrograms computed on the device, as the first layer of every audio model.

Why at the start of the model rather than as a cached transform of the data: the acoustic
shifts act on sound (noise mixed at an SNR, convolution with a room response, re-synthesis
at another pitch or rate), so the stored data must be waveforms; with features computed in
the model every split — train, val and each shifted test set — passes through the same
front end, mixup mixes waveforms (two sounds added, a physical mixture) and SpecAugment,
which must act on the spectrogram, is a layer right after it. The cost is one batched
``torch.stft`` and one (F × M) matmul per batch on the device (measured in the README's
Audio section), where a cache of features would store a second copy of every split and fix
n_mels and the hop into the data's fingerprint.

The mel filterbank is written here with torch (torchaudio is not a dependency): HTK mel
scale, triangular filters with peaks at mel-spaced centres and no area normalization — the
filters of ``torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk")``.
"""

from __future__ import annotations

import torch
from torch import nn


def hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    """HTK mel scale: 2595 · log10(1 + f / 700)."""
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 20.0, f_max: float | None = None):
    """(n_freqs, n_mels) triangular filters; column m rises from centre m−1 to m and falls to m+1.

    n_freqs = n_fft // 2 + 1 STFT bins spanning 0 … sample_rate / 2. Centres are n_mels + 2
    points equally spaced on the mel scale between f_min and f_max (default Nyquist).
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"mel filterbank needs 0 ≤ f_min < f_max ≤ {sample_rate / 2}, got {f_min}, {f_max}")
    freqs = torch.linspace(0, sample_rate / 2, n_freqs)  # (F,)
    edges = mel_to_hz(torch.linspace(hz_to_mel(torch.tensor(f_min)), hz_to_mel(torch.tensor(f_max)), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]  # (M,) each
    rising = (freqs[:, None] - lower) / (centre - lower)
    falling = (upper - freqs[:, None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


class LogMel(nn.Module):
    """Waveforms (B, 1, L) → standardized log-mel spectrograms (B, 1, n_mels, T).

    T = 1 + L // hop (centred frames). Each spectrogram is standardized over its own time
    and frequency (zero mean, unit variance), which removes the recording level and makes
    0 the per-utterance mean — the value SpecAugment masks with (arXiv:1904.08779, §2).
    """

    def __init__(self, sample_rate: int, n_fft: int = 256, hop: int = 128, n_mels: int = 40):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("fbank", mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate), persistent=False)

    def frames(self, length: int) -> int:
        """Number of frames T for a waveform of ``length`` samples."""
        return 1 + length // self.hop

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        # float32 even under bf16 autocast: the power spectrum spans ~100 dB before the log
        with torch.autocast(device_type=wave.device.type, enabled=False):
            spec = torch.stft(
                wave.flatten(0, 1).float(), self.n_fft, self.hop, window=self.window, center=True, return_complex=True
            )  # (B, F, T)
            mel = torch.matmul(spec.abs().pow(2).transpose(1, 2), self.fbank).transpose(1, 2)  # (B, M, T)
            logmel = torch.log(mel + 1e-6)
            mean = logmel.mean(dim=(1, 2), keepdim=True)
            std = logmel.std(dim=(1, 2), keepdim=True).clamp(min=1e-5)
            return ((logmel - mean) / std).unsqueeze(1)
