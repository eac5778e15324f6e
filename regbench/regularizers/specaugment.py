"""SpecAugment (Park et al. 2019, arXiv:1904.08779): time warping, frequency and time masks.

Where it acts: on the log-mel spectrogram, which exists only inside the audio models (the
data are waveforms so that shifts act on sound; ``models.audio_features``). So SpecAugment
is a model-level hook rather than a ``transform``: ``model_overrides`` hands the model a
:class:`SpecAugmentLayer`, which ``models.audio.AudioClassifier`` applies right after its
front end in training mode only — the place Park et al. put it ("applied to the log mel
spectrogram", on the fly during training), and the way ``dropout`` is a constructor change.
A ``transform`` on waveforms cannot mask mel bins, and a cached spectrogram would stop the
acoustic shifts from acting on the sound.

Randomness: the layer draws from the device's default generator, which the training loop
seeds per run (``seeded_global_rng(seed, "dropout")``) and saves in checkpoints, exactly as
for ``nn.Dropout``'s masks; :func:`draw_masks` takes an explicit generator for tests and
benchmarks. Every draw is per sample and batched: (B, m) widths and starts, masks built by
comparing against ``arange`` — no per-example Python loop.

The LibriSpeech LD policy (Park et al., Table 1) is F = 27 of 80 mel bins, m_F = 2, T = 100
frames with p = 1.0, m_T = 2, W = 80. Scaled to an input of M mel bins and τ frames, the
widths keep their share of the axis: F = round(27 · M / 80); T and W keep their share of a
mean LibriSpeech utterance (960 h / 281,241 utterances = 12.3 s = 1229 frames of 10 ms):
T = round(100 · τ / 1229), W = round(80 · τ / 1229). For the audio models here (M = 40 mel
bins, τ = 63 frames of 1 s at 8 kHz, hop 128) that is **F = 14, T = 5, W = 4**, with
m_F = m_T = 2 as in LD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Regularizer

LD = {"freq_width": 27, "freq_masks": 2, "time_width": 100, "time_masks": 2, "max_time_fraction": 1.0, "warp": 80}
LD_MEL_BINS = 80
LIBRISPEECH_MEAN_FRAMES = 1229  # 960 h · 3600 s / 281,241 utterances / 10 ms hop
Count = Annotated[int, Field(ge=0)]  # checked when the suite loads


@dataclass(frozen=True)
class Policy:
    """Mask and warp sizes in bins and frames for one input size (see the module docstring)."""

    freq_width: int  # F: each frequency mask is f ~ U{0, …, F} bins wide
    freq_masks: int  # m_F
    time_width: int  # T: each time mask is t ~ U{0, …, min(T, ⌊p·τ⌋)} frames wide
    time_masks: int  # m_T
    max_time_fraction: float  # p
    warp: int  # W: the warp point moves by w ~ U[−W, W] frames (0: no warp)


def scaled_ld(n_mels: int, n_frames: int) -> Policy:
    """The LD policy scaled to (n_mels, n_frames): widths keep their share of each axis."""
    return Policy(
        freq_width=round(LD["freq_width"] * n_mels / LD_MEL_BINS),
        freq_masks=LD["freq_masks"],
        time_width=round(LD["time_width"] * n_frames / LIBRISPEECH_MEAN_FRAMES),
        time_masks=LD["time_masks"],
        max_time_fraction=LD["max_time_fraction"],
        warp=round(LD["warp"] * n_frames / LIBRISPEECH_MEAN_FRAMES),
    )


@dataclass(frozen=True)
class MaskDraw:
    """Per-sample mask intervals: starts and widths, (B, m_F) in bins and (B, m_T) in frames."""

    freq_start: torch.Tensor
    freq_width: torch.Tensor
    time_start: torch.Tensor
    time_width: torch.Tensor


def _intervals(b: int, m: int, width: int, size: int, g, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, m) widths w ~ U{0..width} and starts ~ U{0..size − w}, as Park et al. §2 draws them."""
    w = torch.randint(width + 1, (b, m), generator=g, device=device)
    start = (torch.rand(b, m, generator=g, device=device) * (size - w + 1)).long()
    return start, w


def draw_masks(b: int, n_mels: int, n_frames: int, policy: Policy, generator=None, device="cpu") -> MaskDraw:
    """Draw every sample's masks at once. ``generator`` None: the device's default generator."""
    f_width = min(policy.freq_width, n_mels)
    t_width = min(policy.time_width, int(policy.max_time_fraction * n_frames))
    fs, fw = _intervals(b, policy.freq_masks, f_width, n_mels, generator, device)
    ts, tw = _intervals(b, policy.time_masks, t_width, n_frames, generator, device)
    return MaskDraw(fs, fw, ts, tw)


def interval_mask(start: torch.Tensor, width: torch.Tensor, size: int) -> torch.Tensor:
    """(B, size) bool: union of the (B, m) intervals [start, start + width)."""
    pos = torch.arange(size, device=start.device).view(1, 1, -1)
    return ((pos >= start.unsqueeze(-1)) & (pos < (start + width).unsqueeze(-1))).any(dim=1)


def apply_masks(spec: torch.Tensor, draw: MaskDraw) -> torch.Tensor:
    """spec (B, C, M, T) with each sample's bands and frames set to 0 (its mean, after LogMel)."""
    _, _, m, t = spec.shape
    freq = interval_mask(draw.freq_start, draw.freq_width, m)[:, None, :, None]  # (B, 1, M, 1)
    time = interval_mask(draw.time_start, draw.time_width, t)[:, None, None, :]  # (B, 1, 1, T)
    return spec.masked_fill(freq | time, 0.0)


def time_warp(spec: torch.Tensor, warp: int, generator=None) -> torch.Tensor:
    """Per-sample piecewise-linear time warp (Park et al. §2). spec (B, C, M, T) → same shape.

    A point w0 ~ U{W + 1, …, τ − 2 − W} moves to w0 + w, w ~ U{−W, …, W}; frames left of it are
    stretched or squeezed linearly onto [0, w0 + w], the rest onto [w0 + w, τ − 1], and
    values are linearly interpolated between frames (one gather for the batch).
    """
    b, _, _, t = spec.shape
    if warp <= 0 or t <= 2 * warp + 2:
        return spec
    dev = spec.device
    w0 = torch.randint(warp + 1, t - 1 - warp, (b, 1), generator=generator, device=dev).float()
    w = torch.randint(-warp, warp + 1, (b, 1), generator=generator, device=dev).float()
    j = torch.arange(t, device=dev, dtype=torch.float32).view(1, -1)  # output frames
    end, moved = t - 1.0, w0 + w
    src = torch.where(j <= moved, j * w0 / moved, w0 + (j - moved) * (end - w0) / (end - moved))  # (B, T)
    lo = src.floor().long().clamp(0, t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    frac = (src - lo.float()).view(b, 1, 1, t)
    index = lambda i: i.view(b, 1, 1, t).expand_as(spec)  # noqa: E731
    return torch.lerp(spec.gather(-1, index(lo)), spec.gather(-1, index(hi)), frac.to(spec.dtype))


class SpecAugmentLayer(nn.Module):
    """Time warp (optional), then m_F frequency and m_T time masks per sample; training only.

    (B, 1, M, T) → same. The policy is fixed at the first call from the input's M and T
    (``policy_for``) and kept in ``self.policy`` for the record.
    """

    def __init__(self, policy_for, time_warp: bool = False):
        super().__init__()
        self.policy_for, self.use_warp = policy_for, time_warp
        self.policy: Policy | None = None

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return spec
        b, _, m, t = spec.shape
        if self.policy is None:
            self.policy = self.policy_for(m, t)
        if self.use_warp:
            spec = time_warp(spec, self.policy.warp)
        return apply_masks(spec, draw_masks(b, m, t, self.policy, device=spec.device))


@register_regularizer("specaugment")
class SpecAugment(Regularizer):
    """Frequency and time masking of the log-mel spectrogram, LD policy scaled to the input (arXiv:1904.08779).

    Widths left at None take the scaled LD values (module docstring); counts and p are LD's.
    ``time_warp`` adds Park et al.'s warp with the scaled W (off by default: the paper finds
    it the least helpful part and the costliest).
    """

    kind = "augmentation"
    modalities = ("audio",)

    def __init__(
        self,
        freq_width: Count | None = None,
        freq_masks: Count = 2,
        time_width: Count | None = None,
        time_masks: Count = 2,
        max_time_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0,
        time_warp: bool = False,
    ):
        self.freq_width = freq_width
        self.freq_masks = freq_masks
        self.time_width = time_width
        self.time_masks = time_masks
        self.max_time_fraction = max_time_fraction
        self.time_warp = time_warp

    def policy_for(self, n_mels: int, n_frames: int) -> Policy:
        """The policy for an (n_mels, n_frames) spectrogram: scaled LD, with any width set here."""
        ld = scaled_ld(n_mels, n_frames)
        return Policy(
            freq_width=ld.freq_width if self.freq_width is None else self.freq_width,
            freq_masks=self.freq_masks,
            time_width=ld.time_width if self.time_width is None else self.time_width,
            time_masks=self.time_masks,
            max_time_fraction=self.max_time_fraction,
            warp=ld.warp if self.time_warp else 0,
        )

    def model_overrides(self) -> dict[str, Any]:
        if "_layer" not in vars(self):  # one layer per run, built on first ask (``__init__`` only stores)
            self._layer = SpecAugmentLayer(self.policy_for, self.time_warp)
        return {"spectrogram_augment": self._layer}

    def finish(self, model: nn.Module, history) -> dict[str, float]:
        """The widths used, as run-level numbers (they depend on the model's mel bins and frames)."""
        p = self._layer.policy if "_layer" in vars(self) else None
        if p is None:
            return {}
        return {
            "specaugment_freq_width": p.freq_width,
            "specaugment_time_width": p.time_width,
            "specaugment_warp": p.warp,
        }

    def state_dict(self) -> dict[str, Any]:
        return {}  # the layer holds no state beyond its policy, rebuilt from the same shapes
