"""Log-mel features and the two audio models (2-D CNN, 1-D conv over time)."""

import math

import pytest
import torch
from torch import nn

from regbench.data.base import DatasetInfo
from regbench.models import build_model
from regbench.models.audio_features import LogMel, hz_to_mel, mel_filterbank, mel_to_hz

SR = 8000
INFO = DatasetInfo("audio_commands", 10, (1, SR), modality="audio", details={"sample_rate": SR})


def tone(freq: float, n: int = SR) -> torch.Tensor:
    return torch.sin(2 * math.pi * freq * torch.arange(n) / SR).view(1, 1, -1)


def test_mel_scale_round_trips_and_filters_are_triangles_in_order():
    f = torch.tensor([0.0, 700.0, 3000.0])
    assert torch.allclose(mel_to_hz(hz_to_mel(f)), f, atol=1e-3)
    assert hz_to_mel(torch.tensor(700.0)) == pytest.approx(2595 * math.log10(2))
    fb = mel_filterbank(129, 40, SR)
    assert fb.shape == (129, 40) and (fb >= 0).all() and fb.max() <= 1
    peaks = fb.argmax(0)
    assert (peaks[1:] >= peaks[:-1]).all() and (fb.sum(0) > 0).all()  # every filter catches some bin


@pytest.mark.parametrize("freq", [300.0, 1000.0, 2500.0])
def test_a_pure_tone_lights_the_mel_band_centred_on_it(freq):
    spec = LogMel(SR)(tone(freq))  # (1, 1, 40, 63)
    assert spec.shape == (1, 1, 40, 63)
    band = int(spec[0, 0].mean(1).argmax())
    centres = mel_to_hz(torch.linspace(hz_to_mel(torch.tensor(20.0)), hz_to_mel(torch.tensor(SR / 2)), 42))[1:-1]
    assert band == int((centres - freq).abs().argmin())


def test_log_mel_is_standardized_per_utterance_and_ignores_the_level():
    x = torch.randn(3, 1, SR)
    spec = LogMel(SR)(x)
    assert torch.allclose(spec.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(spec.std(dim=(1, 2, 3)), torch.ones(3), atol=1e-4)
    assert torch.allclose(LogMel(SR)(10 * x), spec, atol=1e-3)


@pytest.mark.parametrize("name", ["audio_cnn", "audio_conv1d"])
def test_models_map_waveforms_to_logits_and_take_the_shared_arguments(name):
    x = torch.randn(4, 1, SR)
    model = build_model(name, INFO)
    assert model(x).shape == (4, 10)
    with_dropout = build_model(name, INFO, dropout=0.3, norm="batch")
    assert any(isinstance(m, (nn.Dropout, nn.Dropout2d)) for m in with_dropout.modules())
    assert any(isinstance(m, (nn.BatchNorm2d,)) for m in with_dropout.modules())
    assert with_dropout(x).shape == (4, 10)
    for norm in ("layer", "group", "rms"):
        assert build_model(name, INFO, norm=norm)(x).shape == (4, 10)


class Blank(nn.Module):
    def forward(self, spec):
        return torch.zeros_like(spec)


@pytest.mark.parametrize("name", ["audio_cnn", "audio_conv1d"])
def test_spectrogram_augment_acts_in_training_only(name):
    torch.manual_seed(0)
    model = build_model(name, INFO, spectrogram_augment=Blank())
    x = torch.randn(2, 1, SR)
    model.train()
    blanked = model(x)
    assert torch.allclose(blanked[0], blanked[1])  # both saw the same all-zero spectrogram
    model.eval()
    clean = model(x)
    assert not torch.allclose(clean[0], clean[1])


def test_images_are_refused_by_the_audio_models():
    with pytest.raises(ValueError, match=r"mono waveforms of shape \(1, L\)"):
        build_model("audio_cnn", DatasetInfo("digits", 10, (1, 8, 8)))


def test_log_mel_stays_float32_under_bf16_autocast():
    x = torch.randn(2, 1, SR)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = LogMel(SR)(x)
    assert inside.dtype == torch.float32 and torch.allclose(inside, LogMel(SR)(x))
