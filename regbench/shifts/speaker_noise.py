"""Compositional shift on ``audio_commands``: held-out (speaker, noise type) combinations.

Every speaker and every noise type is heard in training, but a seeded set of their
combinations never is (the Latin-square-like design of ``shifts.compositional``, on the
8 speakers × 3 noise types grid): the OOD split ``heldout_speaker_noise`` pools the examples
of every part that fall in a held-out cell, so none of them is ever trained on. ``group`` =
speaker · 3 + noise is added to ``meta``, so worst-group accuracy is reported per cell.
"""

from __future__ import annotations

from typing import Any

import torch

from regbench.data.acoustics import NOISES
from regbench.data.audio_commands import SPEAKERS
from regbench.data.base import Loaded, Splits
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.acoustic import require_audio_commands
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.speaker_noise import SpeakerNoiseParams
from regbench.shifts.compositional import concat, heldout_cells


@register_shift("heldout_speaker_noise")
class HeldoutSpeakerNoise(Shift):
    """Unseen (speaker, noise type) pairs of seen speakers and noise types."""

    family = "compositional"
    Params = SpeakerNoiseParams

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """train/val/test_id: seen cells only; ``ood["heldout_speaker_noise"]``: the held-out cells."""
        p: SpeakerNoiseParams = self.params  # type: ignore[assignment]
        require_audio_commands(loaded, "heldout_speaker_noise")
        s, c = len(SPEAKERS), len(NOISES)
        held = heldout_cells(s, c, p.holdout_fraction, torch_generator(seed, "shift", "heldout_speaker_noise"))
        tagged = [
            ex.replace(meta={**ex.meta, "group": ex.meta["speaker"] * c + ex.meta["noise"]})
            for ex in base_splits(loaded)
        ]
        is_held = [held[ex.meta["speaker"], ex.meta["noise"]] for ex in tagged]
        train, val, test = (ex.subset(~h) for ex, h in zip(tagged, is_held))
        ood = {"heldout_speaker_noise": concat([ex.subset(h) for ex, h in zip(tagged, is_held)])}
        cells = torch.nonzero(held).tolist()
        base = {"family": self.family, "holdout_fraction": p.holdout_fraction}
        split_info: dict[str, dict[str, Any]] = {
            "test_id": {**base, "shift": "none"},
            "heldout_speaker_noise": {
                **base,
                "shift": "heldout_speaker_noise",
                "combinations": [[i, NOISES[j]] for i, j in cells],  # [speaker index, noise type]
                "heldout_share": len(cells) / (s * c),
            },
        }
        return Splits(train, val, test, ood, loaded.info, split_info)
