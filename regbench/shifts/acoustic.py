"""Acoustic covariate shift on ``audio_commands``: the test utterances re-recorded under harder conditions.

Four families, each with a severity table (ImageNet-C style: severity s picks entry s − 1):

- ``noise_<type>``: the noise replaced by white, pink or babble noise at an SNR of
  20, 15, 10, 5, 0 dB (training SNRs are 15–30 dB);
- ``reverb``: a synthetic room with RT60 0.3 … 1.5 s (training rooms: 0 – 0.2 s);
- ``speaker``: a higher voice than any training speaker — f0 raised by 3 … 15 semitones
  and the formants scaled up with it (a shorter vocal tract);
- ``rate``: speech 1.3 … 2.6 times faster than the example's own rate (training 0.85–1.15).

Every OOD split changes one factor of the clean test part and re-renders it with
``render_utterances`` (noise realizations from ``torch_generator(seed, "shift", name,
severity)``), so the rest of each example — keyword, speaker, onset, room or noise — stays as
it was. Train, val and test_id are the dataset's own, untouched.
"""

from __future__ import annotations


from regbench.data.acoustics import NOISES
from regbench.data.audio_commands import FACTORS, babble_talkers, render_utterances
from regbench.data.base import Examples, Loaded, Splits
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.acoustic import AcousticParams

SNR_DB = (20.0, 15.0, 10.0, 5.0, 0.0)
RT60_S = (0.3, 0.5, 0.8, 1.1, 1.5)
SPEAKER_SEMITONES = (3, 6, 9, 12, 15)
FORMANT_PER_OCTAVE = 0.3  # formants rise by 2^(0.3 · octaves): less than f0, as from men to children
RATE_FACTOR = (1.3, 1.6, 1.9, 2.2, 2.6)


def require_audio_commands(loaded: Loaded, shift: str) -> None:
    """Raise a clear error unless every part carries the ``audio_commands`` factors."""
    if any(f not in ex.meta for ex in loaded.parts.values() for f in FACTORS):
        raise ValueError(
            f"{shift} shift needs dataset 'audio_commands' (meta {list(FACTORS)}); got dataset "
            f"'{loaded.info.name}' with meta {sorted(next(iter(loaded.parts.values())).meta)}"
        )


def shifted(test: Examples, family: str, noise: str, severity: int) -> tuple[dict, dict]:
    """(meta with one factor changed, split_info extras) for one family at one severity."""
    m, i = dict(test.meta), severity - 1
    if family == "noise":
        m["noise"] = m["noise"].new_full(m["noise"].shape, NOISES.index(noise))
        m["snr"] = m["snr"].new_full(m["snr"].shape, SNR_DB[i])
        return m, {"noise": noise, "snr_db": SNR_DB[i]}
    if family == "reverb":
        m["rt60"] = m["rt60"].new_full(m["rt60"].shape, RT60_S[i])
        return m, {"rt60_s": RT60_S[i]}
    if family == "speaker":
        octaves = SPEAKER_SEMITONES[i] / 12
        m["pitch"] = m["pitch"] * 2**octaves
        m["formant_scale"] = m["formant_scale"] * 2 ** (FORMANT_PER_OCTAVE * octaves)
        return m, {"semitones": SPEAKER_SEMITONES[i]}
    m["rate"] = m["rate"] * RATE_FACTOR[i]
    return m, {"rate_factor": RATE_FACTOR[i]}


@register_shift("acoustic")
class AcousticShift(Shift):
    """Noise, reverberation, speaker and rate shifts of ``audio_commands``, one OOD split per (family, severity)."""

    family = "covariate"
    Params = AcousticParams

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """train/val/test_id as loaded; ``ood["noise_<type>/<s>"]``, ``ood["reverb/<s>"]``, … re-rendered."""
        p: AcousticParams = self.params  # type: ignore[assignment]
        require_audio_commands(loaded, "acoustic")
        train, val, test = base_splits(loaded)
        rate, length = int(loaded.info.details["sample_rate"]), test.x.shape[-1]
        talkers = babble_talkers(seed, rate, length)
        ood: dict[str, Examples] = {}
        split_info: dict[str, dict] = {}
        for family in p.shifts:
            for noise in p.noises if family == "noise" else [""]:
                name = f"noise_{noise}" if family == "noise" else family
                for severity in p.severities:
                    meta, extra = shifted(test, family, noise, severity)
                    g = torch_generator(seed, "shift", name, severity)
                    key = f"{name}/{severity}"
                    ood[key] = Examples(render_utterances(meta, g, talkers, rate), test.y, meta)
                    split_info[key] = {"family": "covariate", "shift": name, "severity": severity, **extra}
        return Splits(train, val, test, ood, loaded.info, split_info)
