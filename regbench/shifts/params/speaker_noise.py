"""The held-out speaker × noise shift's parameters (``shifts.speaker_noise``)."""

from __future__ import annotations

from pydantic import Field

from regbench.shifts.base import ShiftParams


class SpeakerNoiseParams(ShiftParams):
    holdout_fraction: float = Field(0.25, gt=0, lt=1)  # share of the 8 × 3 (speaker, noise) cells held out
