"""Keyword-like utterances from a source-filter model: harmonic tones shaped by formants.

Each keyword is a fixed sequence of one to three syllables. A syllable has an onset (none,
a fricative "s" or a plosive burst "t"), a vowel (three formant frequencies, Peterson &
Barney 1952 averages), a pitch contour (semitones over the syllable) and a duration. A
speaker sets the base pitch f0 and scales every formant (a shorter vocal tract raises them);
the speaking rate divides every duration. Synthesis is additive: harmonic k of f0(t) gets the
amplitude of the formant envelope at k·f0(t) (a sum of resonances), harmonics above Nyquist
are dropped, and the control tracks (f0, formants, envelopes) are built at 200 Hz and
interpolated to the sample rate. All of it is batched over utterances: one pass per
harmonic (≤ ``MAX_HARMONICS``), never one per utterance.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CONTROL_RATE = 200  # Hz: control tracks (pitch, formants, envelopes) are built at 5 ms steps
MAX_HARMONICS = 40
GAP_SECONDS = 0.04  # silence between syllables at rate 1
FRICATIVE_SECONDS = 0.07  # "s" onset length at rate 1
BURST_SECONDS = 0.015  # "t" onset length at rate 1
FORMANT_BANDWIDTHS = (90.0, 110.0, 170.0)  # Hz, F1..F3
FORMANT_GAINS = (1.0, 0.6, 0.3)  # higher formants are weaker (spectral tilt of the voice)
LEVEL_RMS = 0.1  # every clean utterance is scaled to this RMS over the window

VOWELS: dict[str, tuple[float, float, float]] = {  # F1, F2, F3 in Hz (adult male averages)
    "a": (730.0, 1090.0, 2440.0),
    "e": (530.0, 1840.0, 2480.0),
    "i": (270.0, 2290.0, 3010.0),
    "o": (570.0, 840.0, 2410.0),
    "u": (300.0, 870.0, 2240.0),
}
CONTOURS: dict[str, tuple[float, float, float]] = {  # pitch in semitones at the start, middle and end
    "flat": (0.0, 0.0, 0.0),
    "rise": (-2.0, 1.0, 4.0),
    "fall": (4.0, 1.0, -3.0),
    "peak": (0.0, 4.0, 0.0),
    "dip": (0.0, -3.0, 0.0),
}
ONSETS = ("", "s", "t")
# (onset, vowel, contour, seconds at rate 1): ten Speech-Commands-like labels, each pair
# differing in at least one of syllable count, onset, vowel, contour or duration.
KEYWORDS: dict[str, tuple[tuple[str, str, str, float], ...]] = {
    "yes": (("", "i", "rise", 0.10), ("s", "e", "fall", 0.20)),
    "no": (("t", "o", "fall", 0.30),),
    "up": (("", "u", "rise", 0.16), ("t", "a", "flat", 0.08)),
    "down": (("t", "a", "fall", 0.18), ("", "u", "fall", 0.16)),
    "left": (("", "e", "flat", 0.18), ("s", "e", "rise", 0.10)),
    "right": (("", "a", "rise", 0.14), ("", "i", "rise", 0.14), ("t", "i", "flat", 0.06)),
    "on": (("", "o", "flat", 0.30),),
    "off": (("", "o", "peak", 0.16), ("s", "o", "dip", 0.12)),
    "stop": (("s", "o", "fall", 0.16), ("t", "a", "flat", 0.08)),
    "go": (("t", "o", "rise", 0.26),),
}
MAX_SYLLABLES = max(len(k) for k in KEYWORDS.values())


def _table() -> dict[str, torch.Tensor]:
    """The keyword table as (K, S) tensors, S = MAX_SYLLABLES; absent syllables have duration 0."""
    k, s = len(KEYWORDS), MAX_SYLLABLES
    out = {
        "onset": torch.zeros(k, s, dtype=torch.long),
        "formants": torch.zeros(k, s, 3),
        "contour": torch.zeros(k, s, 3),
        "duration": torch.zeros(k, s),
    }
    for i, syllables in enumerate(KEYWORDS.values()):
        for j, (onset, vowel, contour, seconds) in enumerate(syllables):
            out["onset"][i, j] = ONSETS.index(onset)
            out["formants"][i, j] = torch.tensor(VOWELS[vowel])
            out["contour"][i, j] = torch.tensor(CONTOURS[contour])
            out["duration"][i, j] = seconds
    return out


TABLE = _table()


def keyword_seconds(keyword: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    """(N,) length in seconds of each keyword spoken at ``rate`` (onsets, syllables and gaps)."""
    dur = TABLE["duration"][keyword]  # (N, S)
    present = dur > 0
    onset = TABLE["onset"][keyword]
    onset_s = torch.where(onset == 1, FRICATIVE_SECONDS, torch.where(onset == 2, BURST_SECONDS, 0.0))
    gaps = (present.sum(1) - 1).clamp(min=0) * GAP_SECONDS
    return ((dur + onset_s * present).sum(1) + gaps) / rate


def _tracks(keyword, pitch, formant_scale, rate, offset, frames):
    """Control tracks at CONTROL_RATE: f0, F1..F3 (Hz), voicing and frication envelopes.

    Returns f0 (N, C), formants (N, 3, C), voiced (N, C) and noise (N, C) amplitudes.
    """
    n = len(keyword)
    t = torch.arange(frames, dtype=torch.float32).view(1, -1) / CONTROL_RATE  # (1, C) seconds
    f0 = pitch.view(-1, 1).expand(n, frames).clone()
    formants = torch.zeros(n, 3, frames)
    voiced, noise = torch.zeros(n, frames), torch.zeros(n, frames)
    cursor = offset.clone()  # (N,) start time of the next segment
    neutral = torch.tensor(VOWELS["e"]).view(1, 3, 1) * formant_scale.view(-1, 1, 1)
    formants += neutral  # formants glide from a neutral vowel between syllables
    for j in range(MAX_SYLLABLES):
        dur = TABLE["duration"][keyword, j] / rate  # (N,) 0 where absent
        present = (dur > 0).view(-1, 1)
        onset = TABLE["onset"][keyword, j]
        onset_s = torch.where(onset == 1, FRICATIVE_SECONDS, torch.where(onset == 2, BURST_SECONDS, 0.0)) / rate
        in_onset = present & (t >= cursor.view(-1, 1)) & (t < (cursor + onset_s).view(-1, 1))
        # a fricative hisses at 0.5 of the vowel's level, a burst is a short loud click
        noise = torch.where(in_onset, torch.where(onset == 1, 0.5, 1.0).view(-1, 1), noise)
        start = cursor + onset_s
        tau = (t - start.view(-1, 1)) / dur.clamp(min=1e-6).view(-1, 1)  # (N, C) position in the syllable
        inside = present & (tau >= 0) & (tau < 1)
        c = TABLE["contour"][keyword, j]  # (N, 3) semitones at τ = 0, ½, 1
        semis = torch.where(
            tau < 0.5, c[:, :1] + (c[:, 1:2] - c[:, :1]) * 2 * tau, c[:, 1:2] + (c[:, 2:] - c[:, 1:2]) * (2 * tau - 1)
        )
        f0 = torch.where(inside, pitch.view(-1, 1) * torch.pow(2.0, semis / 12), f0)
        target = TABLE["formants"][keyword, j].view(n, 3, 1) * formant_scale.view(-1, 1, 1)
        formants = torch.where(inside.unsqueeze(1), target, formants)
        voiced = torch.where(inside, torch.sin(math.pi * tau.clamp(0, 1)).sqrt(), voiced)
        cursor = torch.where(present.view(-1), start + dur + GAP_SECONDS / rate, cursor)
    # 25 ms smoothing: formant and pitch jumps become glides, as in coarticulated speech
    smooth = lambda v: F.avg_pool1d(v, 5, stride=1, padding=2, count_include_pad=False)  # noqa: E731
    return smooth(f0.unsqueeze(1)).squeeze(1), smooth(formants), voiced, noise


def synthesize(
    keyword: torch.Tensor,
    pitch: torch.Tensor,
    formant_scale: torch.Tensor,
    rate: torch.Tensor,
    offset: torch.Tensor,
    g: torch.Generator,
    sample_rate: int = 8000,
    length: int = 8000,
) -> torch.Tensor:
    """Clean utterances: (N, L) float32, each scaled to RMS ``LEVEL_RMS``.

    keyword: (N,) int64 into ``KEYWORDS``; pitch: (N,) base f0 in Hz; formant_scale: (N,)
    factor on every formant; rate: (N,) speaking rate (2 = twice as fast); offset: (N,)
    onset time in seconds. ``g`` draws the fricative noise only: voicing is deterministic.
    """
    n = len(keyword)
    frames = int(math.ceil(length / sample_rate * CONTROL_RATE)) + 1
    f0, formants, voiced, noise = _tracks(
        keyword, pitch.float(), formant_scale.float(), rate.float(), offset.float(), frames
    )

    def up(v: torch.Tensor) -> torch.Tensor:  # (N, ..., C) control rate → (N, ..., L) sample rate
        shape = v.shape
        out = F.interpolate(v.reshape(n, -1, frames), size=length, mode="linear", align_corners=False)
        return out.reshape(*shape[:-1], length)

    f0_s = up(f0)  # (N, L)
    phase = 2 * math.pi * torch.cumsum(f0_s, dim=-1) / sample_rate
    bandwidth = torch.tensor(FORMANT_BANDWIDTHS).view(1, 3, 1)
    gains = torch.tensor(FORMANT_GAINS).view(1, 3, 1)
    speech = torch.zeros(n, length)
    for k in range(1, MAX_HARMONICS + 1):
        freq = k * f0  # (N, C) at control rate: the envelope is smooth, so it is cheap to evaluate here
        amp = (gains / (1 + ((freq.unsqueeze(1) - formants) / bandwidth) ** 2)).sum(1)  # (N, C)
        amp = torch.where(freq < 0.45 * sample_rate, amp / k**0.5, 0.0)  # glottal tilt; nothing near Nyquist
        speech += up(amp * voiced) * torch.sin(k * phase)
    hiss = torch.randn(n, length + 1, generator=g).diff(dim=-1)  # first difference: a high-pass for frication
    speech += up(noise) * hiss * 0.3
    rms = speech.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp(min=1e-8)
    return speech * (LEVEL_RMS / rms)
