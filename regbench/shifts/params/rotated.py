"""Rotated digits' parameters (``shifts.rotated``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from regbench.shifts.base import PooledShiftParams


class RotatedParams(PooledShiftParams):
    """The domains (angles in degrees) and which one is held out for the OOD test."""

    domains: tuple[float, ...] = Field((0, 15, 30, 45, 60, 75), min_length=3)
    test_domain: float = 75

    @model_validator(mode="after")
    def _held_out_is_a_domain(self):
        if self.test_domain not in self.domains:
            raise ValueError(f"test_domain {self.test_domain:g} is not one of domains {list(self.domains)}")
        return self

    def train_domains(self) -> list[float]:
        """The domains that are not held out, in order."""
        return [a for a in self.domains if a != self.test_domain]

    def training_envs(self) -> int:
        return len(self.train_domains())
