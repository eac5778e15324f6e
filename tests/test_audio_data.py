"""The synthetic spoken-commands dataset and its acoustic building blocks (noise, SNR, rooms, voices)."""

import math

import pytest
import torch

from regbench.data import DATASETS
from regbench.data.acoustics import (
    NOISES,
    babble_noise,
    mix_at_snr,
    pink_noise,
    reverberate,
    room_impulse_responses,
    white_noise,
)
from regbench.data.audio_commands import FACTORS, ROOMS, SNR_RANGE, SPEAKERS, load_audio_commands
from regbench.data.speech_synth import KEYWORDS, synthesize
from regbench.seeding import torch_generator

SR = 8000


@pytest.fixture(scope="module")
def small():
    return load_audio_commands(0, n=200)


def pooled(loaded, key):
    return torch.cat([p.meta[key] for p in loaded.parts.values()])


def test_registered_as_audio_with_waveforms_and_factors(small):
    assert DATASETS.get("audio_commands").modality == "audio"
    assert small.info.modality == "audio" and small.info.task == "classification"
    assert small.info.num_classes == len(KEYWORDS) >= 10 and small.info.input_shape == (1, SR)
    assert set(small.parts) == {"train", "val", "test"} and sum(len(p) for p in small.parts.values()) == 200
    for part in small.parts.values():
        assert part.x.dtype == torch.float32 and part.x.shape[1:] == (1, SR)
        assert set(part.meta) == set(FACTORS) and torch.equal(part.y, part.meta["keyword"])
        assert torch.isfinite(part.x).all()


def test_classes_are_balanced_overall_and_in_every_part(small):
    assert torch.bincount(torch.cat([p.y for p in small.parts.values()])).tolist() == [20] * 10
    assert torch.bincount(small.parts["val"].y).tolist() == [4] * 10  # 20 % of 20
    assert torch.bincount(small.parts["test"].y).tolist() == [5] * 10  # 25 % of 20


def test_factors_are_recorded_in_their_ranges(small):
    speaker, pitch = pooled(small, "speaker"), pooled(small, "pitch")
    base = torch.tensor([s[0] for s in SPEAKERS])[speaker]
    assert ((pitch / base - 1).abs() <= 0.06 + 1e-6).all()
    snr = pooled(small, "snr")
    assert snr.min() >= SNR_RANGE[0] and snr.max() <= SNR_RANGE[1]
    assert torch.equal(pooled(small, "rt60"), torch.tensor(list(ROOMS.values()))[pooled(small, "room")])
    assert set(pooled(small, "noise").tolist()) == set(range(len(NOISES)))
    assert len(set(speaker.tolist())) == len(SPEAKERS)


def test_seeded_and_deterministic():
    a, b, c = load_audio_commands(3, n=40), load_audio_commands(3, n=40), load_audio_commands(4, n=40)
    assert torch.equal(a.parts["train"].x, b.parts["train"].x)
    assert not torch.equal(a.parts["train"].x, c.parts["train"].x)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n ≥ 10"):
        load_audio_commands(0, n=5)


def _f0_by_autocorrelation(wave: torch.Tensor, lo=60, hi=700) -> float:
    """f0 of a voiced stretch from the first autocorrelation peak (lags for lo…hi Hz)."""
    w = wave - wave.mean()
    ac = torch.fft.irfft(torch.fft.rfft(w, n=2 * len(w)).abs() ** 2)[: len(w)]
    lags = torch.arange(SR // hi, SR // lo)
    return SR / float(lags[ac[lags].argmax()])


@pytest.mark.parametrize("pitch", [110.0, 200.0])
def test_a_flat_vowel_is_voiced_at_the_speaker_pitch(pitch):
    on = torch.tensor([list(KEYWORDS).index("on")])  # one flat syllable
    wave = synthesize(
        on, torch.tensor([pitch]), torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([0.2]), torch_generator(0)
    )
    voiced = wave[0, int(0.3 * SR) : int(0.4 * SR)]  # the middle of the 0.3 s vowel
    assert _f0_by_autocorrelation(voiced) == pytest.approx(pitch, rel=0.04)


def test_speaking_rate_scales_the_voiced_duration():
    def voiced_seconds(rate: float) -> float:
        kw = torch.tensor([list(KEYWORDS).index("no")])
        wave = synthesize(
            kw,
            torch.tensor([150.0]),
            torch.tensor([1.0]),
            torch.tensor([rate]),
            torch.tensor([0.1]),
            torch_generator(0),
        )
        frames = wave[0].reshape(-1, 80).pow(2).mean(1)  # 10 ms energy frames
        return float((frames > 0.05 * frames.max()).sum()) / 100

    assert voiced_seconds(2.0) == pytest.approx(voiced_seconds(1.0) / 2, rel=0.2)


def test_mix_at_snr_gives_the_asked_ratio():
    g = torch_generator(1)
    speech, noise = torch.randn(3, 4000, generator=g), 5 * torch.randn(3, 4000, generator=g)
    snr = torch.tensor([20.0, 5.0, 0.0])
    added = mix_at_snr(speech, noise, snr) - speech
    measured = 10 * torch.log10(speech.pow(2).mean(1) / added.pow(2).mean(1))
    assert torch.allclose(measured, snr, atol=1e-3)


def _spectral_slope(noise: torch.Tensor) -> float:
    """Slope of log power vs log frequency (−1 for pink, 0 for white), 50 Hz … 3.5 kHz."""
    power = torch.fft.rfft(noise, dim=-1).abs().pow(2).mean(0)
    f = torch.fft.rfftfreq(noise.shape[-1], 1 / SR)
    band = (f > 50) & (f < 3500)
    x, y = f[band].log(), power[band].log()
    return float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())


def test_white_is_flat_and_pink_falls_as_one_over_f():
    g = torch_generator(2)
    assert _spectral_slope(white_noise(64, SR, g)) == pytest.approx(0.0, abs=0.05)
    assert _spectral_slope(pink_noise(64, SR, g)) == pytest.approx(-1.0, abs=0.05)
    assert pink_noise(4, SR, g).std(dim=1) == pytest.approx(torch.ones(4), abs=1e-4)


def test_babble_sums_several_talkers_with_random_lags():
    g = torch_generator(3)
    talkers = torch.zeros(4, 100)
    talkers[torch.arange(4), torch.arange(4) * 10] = 1.0  # talker i: one click at 10·i
    out = babble_noise(talkers, 2, g)
    assert out.shape == (2, 100)
    assert ((out != 0).sum(1) <= 5).all() and ((out != 0).sum(1) >= 1).all()  # 5 talkers, clicks may overlap


def _schroeder_rt60(h: torch.Tensor) -> float:
    """RT60 from the Schroeder backward-integrated decay between −5 and −25 dB (T20 × 3)."""
    energy = h.pow(2).flip(0).cumsum(0).flip(0)
    db = 10 * torch.log10(energy / energy[0])
    t = torch.arange(len(h)) / SR
    fit = (db < -5) & (db > -25)
    x, y = t[fit], db[fit]
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    return float(-60 / slope)


@pytest.mark.parametrize("rt60", [0.3, 0.8])
def test_room_responses_decay_by_60_db_in_rt60(rt60):
    h = room_impulse_responses(torch.full((8,), rt60), SR, torch_generator(4))
    assert torch.allclose(h.norm(dim=1), torch.ones(8))
    assert sum(_schroeder_rt60(row) for row in h) / 8 == pytest.approx(rt60, rel=0.15)


def test_a_dry_room_leaves_the_sound_unchanged_and_reverb_keeps_the_level():
    g = torch_generator(5)
    x = torch.randn(2, 2000, generator=g)
    assert torch.allclose(reverberate(x, torch.zeros(2), SR, g), x, atol=1e-5)
    wet = reverberate(x, torch.tensor([0.5, 1.0]), SR, g)
    assert torch.allclose(wet.pow(2).mean(1), x.pow(2).mean(1), rtol=1e-4)
    assert not torch.allclose(wet, x, atol=0.1)


def test_utterances_have_the_level_and_length_asked():
    g = torch_generator(6)
    n = len(KEYWORDS)
    wave = synthesize(torch.arange(n), torch.full((n,), 150.0), torch.ones(n), torch.ones(n), torch.full((n,), 0.1), g)
    assert wave.shape == (n, SR)
    assert torch.allclose(wave.pow(2).mean(1).sqrt(), torch.full((n,), 0.1), rtol=1e-4)
    assert math.isfinite(float(wave.abs().max()))
