"""Audio classifiers over waveforms: log-mel front end, then a 2-D CNN or a 1-D conv over time.

Both take (B, 1, L) waveforms and return (B, K) logits, and take the arguments the other
models take (``width``, ``depth``, ``dropout``, ``norm``), so the architecture regularizers
(dropout, the norm layers) apply unchanged. ``spectrogram_augment`` is the model-level hook
of spectrogram augmentations: a module applied to the (B, 1, M, T) log-mel in training mode
only, set by a regularizer through ``model_overrides`` (``regularizers.specaugment``), never
from a suite's ``model_args``.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

from regbench.models import register_model
from regbench.models.audio_features import LogMel
from regbench.models.cnn import cnn
from regbench.models.norms import make_norm

Norm = Literal["none", "batch", "layer", "group", "rms"]


class AudioClassifier(nn.Module):
    """frontend (waveform → log-mel) → augment (training only) → body (log-mel → logits)."""

    def __init__(self, frontend: LogMel, body: nn.Module, augment: nn.Module | None = None):
        super().__init__()
        self.frontend, self.body = frontend, body
        self.augment = augment if augment is not None else nn.Identity()

    def forward(self, wave):  # (B, 1, L) → (B, K)
        spec = self.frontend(wave)  # (B, 1, M, T)
        if self.training:
            spec = self.augment(spec)
        return self.body(spec)


class _OnRows(nn.Module):
    """Apply a (B, C, H, W) norm layer to (B, C, T) sequences as maps of height 1."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x):  # (B, C, T) → same
        return self.norm(x.unsqueeze(2)).squeeze(2)


def _frontend(input_shape: tuple[int, ...], info, n_mels: int) -> tuple[LogMel, int]:
    if len(input_shape) != 2 or input_shape[0] != 1:
        raise ValueError(f"audio models take mono waveforms of shape (1, L); got input shape {tuple(input_shape)}")
    sample_rate = int((getattr(info, "details", None) or {}).get("sample_rate", 8000))
    frontend = LogMel(sample_rate, n_mels=n_mels)
    return frontend, frontend.frames(input_shape[-1])


@register_model("audio_cnn")
def audio_cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    info=None,
    width: int = 16,
    depth: int = 3,
    dropout: float = 0.0,
    norm: Norm = "none",
    n_mels: int = 40,
    spectrogram_augment: nn.Module | None = None,
) -> nn.Module:
    """Log-mel (B, 1, n_mels, T) → the ``cnn`` model's blocks (3×3 convs, 2×2 pools) → logits (B, K).

    Input (B, 1, L) waveforms at ``info.details["sample_rate"]`` (default 8 kHz); frames of
    256 samples every 128 (32 ms every 16 ms at 8 kHz), see :class:`LogMel`.
    """
    frontend, frames = _frontend(input_shape, info, n_mels)
    body = cnn((1, n_mels, frames), num_classes, width=width, depth=depth, dropout=dropout, norm=norm)
    return AudioClassifier(frontend, body, spectrogram_augment)


@register_model("audio_conv1d")
def audio_conv1d(
    input_shape: tuple[int, ...],
    num_classes: int,
    info=None,
    width: int = 64,
    depth: int = 3,
    dropout: float = 0.0,
    norm: Norm = "none",
    n_mels: int = 40,
    kernel: int = 9,
    spectrogram_augment: nn.Module | None = None,
) -> nn.Module:
    """Temporal convolutions with the mel bins as channels (TC-ResNet-style, arXiv:1904.03814).

    Log-mel (B, 1, M, T) → (B, M, T) → depth × [Conv1d(width, kernel) → norm → ReLU
    (→ Dropout between blocks) → MaxPool1d(2)] → mean over time → Dropout(p) → Linear.
    Input (B, 1, L) waveforms → logits (B, K). It sees every frequency at once and only
    ``kernel``-frame neighbourhoods in time, the opposite trade-off of ``audio_cnn``.
    """
    frontend, _ = _frontend(input_shape, info, n_mels)
    layers: list[nn.Module] = [nn.Flatten(1, 2)]  # (B, 1, M, T) → (B, M, T)
    channels = n_mels
    for i in range(depth):
        layers += [
            nn.Conv1d(channels, width, kernel, padding=kernel // 2),
            _OnRows(make_norm(norm, width, True)),
            nn.ReLU(),
        ]
        if dropout > 0 and i < depth - 1:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.MaxPool1d(2))
        channels = width
    layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(channels, num_classes))
    return AudioClassifier(frontend, nn.Sequential(*layers), spectrogram_augment)
