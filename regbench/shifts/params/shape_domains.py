"""Shape domains' parameters (``shifts.shape_domains``): domain names are checked against
the shapes palettes of ``data.names``."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from regbench.data.names import BACKGROUNDS, COLOURS
from regbench.shifts.base import ShiftParams

PALETTES = {"background": list(BACKGROUNDS), "colour": list(COLOURS)}


class ShapeDomainsParams(ShiftParams):
    """Which factor makes the domains, which of its values are used, which one is held out."""

    factor: Literal["background", "colour"] = "background"
    domains: tuple[str, ...] | None = None  # palette names; None: every value of the factor
    test_domain: str | None = None  # None: the last of ``domains``

    @model_validator(mode="after")
    def _names_are_in_the_palette(self):
        palette = PALETTES[self.factor]
        unknown = [d for d in (*self.names(), self.held_out()) if d not in palette]
        if unknown:
            raise ValueError(f"unknown {self.factor} {unknown}; the shapes palette has {palette}")
        if len(set(self.names())) != len(self.names()) or len(self.names()) < 3:
            raise ValueError(f"domains must be ≥ 3 distinct {self.factor}s, got {list(self.names())}")
        if self.held_out() not in self.names():
            raise ValueError(f"test_domain '{self.held_out()}' is not one of domains {list(self.names())}")
        return self

    def names(self) -> tuple[str, ...]:
        return self.domains if self.domains is not None else tuple(PALETTES[self.factor])

    def held_out(self) -> str:
        return self.test_domain if self.test_domain is not None else self.names()[-1]

    def train_domains(self) -> list[str]:
        """The domains that are not held out, in order."""
        return [d for d in self.names() if d != self.held_out()]

    def training_envs(self) -> int:
        return len(self.train_domains())
