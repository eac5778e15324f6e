"""Procedural spoken commands: ~1 s keyword utterances at 8 kHz with recorded acoustic factors.

Ten keyword classes (``speech_synth.KEYWORDS``) spoken by eight synthetic speakers at
varying rates, in one of three rooms, under one of three noise types at a training SNR.
Every example keeps its factors in ``Examples.meta`` so that the acoustic shifts can
re-record it with one factor changed (``render_utterances``) or hold out combinations —
the audio counterpart of ``shapes``:

- ``keyword`` (the label), ``speaker`` (index into ``SPEAKERS``), ``pitch`` (base f0, Hz),
  ``formant_scale``, ``rate`` (speaking rate), ``offset`` (onset time, s);
- ``noise`` (index into ``acoustics.NOISES``), ``snr`` (dB), ``room`` (index into ``ROOMS``)
  and ``rt60`` (s).

Classes are balanced exactly: keyword i of example j is j mod 10 before the seeded split.
Waveforms are (N, 1, L) float32 (mono, channel first); the model computes features from
them (``models.audio_features``), so shifts act on sound, not on spectrograms.
"""

from __future__ import annotations

import torch

from regbench.data import register_dataset
from regbench.data.acoustics import NOISES, make_noise, mix_at_snr, reverberate
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.speech_synth import KEYWORDS, keyword_seconds, synthesize
from regbench.data.splitting import stratified_parts
from regbench.seeding import torch_generator

# (base f0 in Hz, formant scale): low to high voices; a higher voice has a shorter vocal
# tract, so its formants are scaled up too (Peterson & Barney's men → women → children trend).
SPEAKERS: tuple[tuple[float, float], ...] = (
    (95.0, 0.92),
    (110.0, 0.95),
    (125.0, 0.97),
    (145.0, 1.00),
    (170.0, 1.04),
    (195.0, 1.08),
    (220.0, 1.11),
    (245.0, 1.14),
)
ROOMS: dict[str, float] = {"dry": 0.0, "small": 0.1, "office": 0.2}  # RT60 in seconds
PITCH_JITTER = 0.06  # per-utterance f0 varies ±6 % around the speaker's
RATE_RANGE = (0.85, 1.15)
SNR_RANGE = (15.0, 30.0)  # dB, training conditions; the noise shift goes from 20 down to 0
BABBLE_POOL = 64  # talkers babble noise is built from (synthesized with the dataset's seed)
FACTORS: tuple[str, ...] = (
    "keyword", "speaker", "pitch", "formant_scale", "rate", "offset", "noise", "snr", "room", "rt60",
)  # fmt: skip


def sample_factors(n: int, g: torch.Generator, duration: float) -> dict[str, torch.Tensor]:
    """Every factor of n utterances: a dict of (N,) tensors keyed by ``FACTORS``.

    Keywords cycle through the classes (exactly balanced); everything else is an independent
    draw. The onset is uniform over the room the keyword leaves in the window.
    """
    keyword = torch.arange(n) % len(KEYWORDS)
    speaker = torch.randint(len(SPEAKERS), (n,), generator=g)
    table = torch.tensor(SPEAKERS)
    pitch = table[speaker, 0] * (1 + PITCH_JITTER * (2 * torch.rand(n, generator=g) - 1))
    rate = RATE_RANGE[0] + (RATE_RANGE[1] - RATE_RANGE[0]) * torch.rand(n, generator=g)
    slack = (duration - keyword_seconds(keyword, rate)).clamp(min=0.0)
    room = torch.randint(len(ROOMS), (n,), generator=g)
    return {
        "keyword": keyword,
        "speaker": speaker,
        "pitch": pitch,
        "formant_scale": table[speaker, 1],
        "rate": rate,
        "offset": slack * torch.rand(n, generator=g),
        "noise": torch.randint(len(NOISES), (n,), generator=g),
        "snr": SNR_RANGE[0] + (SNR_RANGE[1] - SNR_RANGE[0]) * torch.rand(n, generator=g),
        "room": room,
        "rt60": torch.tensor(list(ROOMS.values()))[room],
    }


def babble_talkers(seed: int, sample_rate: int, length: int) -> torch.Tensor:
    """(BABBLE_POOL, L) clean utterances of random keywords and speakers, for babble noise."""
    g = torch_generator(seed, "audio_commands", "babble", sample_rate, length)
    f = sample_factors(BABBLE_POOL, g, length / sample_rate)
    keyword = torch.randint(len(KEYWORDS), (BABBLE_POOL,), generator=g)
    return synthesize(keyword, f["pitch"], f["formant_scale"], f["rate"], f["offset"], g, sample_rate, length)


def render_utterances(
    meta: dict[str, torch.Tensor], g: torch.Generator, talkers: torch.Tensor, sample_rate: int = 8000
) -> torch.Tensor:
    """Record utterances with the given factors: (N, 1, L) float32, L = ``talkers.shape[1]``.

    Speech from (keyword, pitch, formant_scale, rate, offset), then the room (``rt60``), then
    noise of type ``noise`` at ``snr`` dB. Shifts call this with one factor changed.
    """
    length = talkers.shape[1]
    speech = synthesize(
        meta["keyword"], meta["pitch"], meta["formant_scale"], meta["rate"], meta["offset"], g, sample_rate, length
    )
    wet = reverberate(speech, meta["rt60"], sample_rate, g)
    noisy = mix_at_snr(wet, make_noise(meta["noise"], length, g, talkers), meta["snr"].float())
    return noisy.unsqueeze(1)


@register_dataset("audio_commands", modality="audio")
def load_audio_commands(
    seed: int,
    n: int = 2000,
    sample_rate: int = 8000,
    duration: float = 1.0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.25,
) -> Loaded:
    """Synthetic spoken commands: x (N, 1, L) float32 waveforms, L = sample_rate · duration;
    y (N,) int64 keyword (10 classes, balanced). Factors are in ``meta`` (see the module).

    Everything is drawn from ``torch_generator(seed, "audio_commands", n, sample_rate,
    duration)``; parts train/val/test are stratified by class.
    """
    if n < len(KEYWORDS) or sample_rate < 4000 or not 0.5 <= duration <= 2.0:
        raise ValueError(
            f"audio_commands needs n ≥ {len(KEYWORDS)}, sample_rate ≥ 4000 and 0.5 ≤ duration ≤ 2 s; "
            f"got n={n}, sample_rate={sample_rate}, duration={duration}"
        )
    length = int(round(sample_rate * duration))
    g = torch_generator(seed, "audio_commands", n, sample_rate, duration)
    factors = sample_factors(n, g, duration)
    x = render_utterances(factors, g, babble_talkers(seed, sample_rate, length), sample_rate)
    pool = Examples(x, factors["keyword"].clone(), factors)
    parts = stratified_parts(pool, {"val": val_fraction, "test": test_fraction}, seed=seed)
    info = DatasetInfo(
        name="audio_commands",
        num_classes=len(KEYWORDS),
        input_shape=(1, length),
        factors=FACTORS,
        modality="audio",
        details={
            "source": "generated",
            "n": n,
            "sample_rate": sample_rate,
            "keywords": list(KEYWORDS),
            "speakers": [list(s) for s in SPEAKERS],
            "noises": list(NOISES),
            "rooms": ROOMS,
            "snr_range": list(SNR_RANGE),
            "rate_range": list(RATE_RANGE),
        },
    )
    return Loaded(info, parts)
