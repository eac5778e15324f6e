"""The acoustic shift's parameters (``shifts.acoustic``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from regbench.data.names import NOISES
from regbench.shifts.base import ShiftParams

Family = Literal["noise", "reverb", "speaker", "rate"]
NoiseName = Literal["white", "pink", "babble"]


class AcousticParams(ShiftParams):
    """Which families and noise types, at which severities (1 … 5)."""

    shifts: list[Family] = Field(default_factory=lambda: ["noise", "reverb", "speaker", "rate"], min_length=1)
    noises: list[NoiseName] = Field(default_factory=lambda: list(NOISES), min_length=1)
    severities: list[Annotated[int, Field(ge=1, le=5)]] = Field(default_factory=lambda: [1, 2, 3, 4, 5], min_length=1)
