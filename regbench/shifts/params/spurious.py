"""The spurious-colour family's parameters (``shifts.spurious``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from regbench.shifts.base import PooledShiftParams


class SpuriousParams(PooledShiftParams):
    """Knobs of the spurious-colour family."""

    train_agreement: float = Field(0.9, ge=0, le=1)  # ρ_train: P(colour = class colour), train/val/test_id
    test_agreement: float = Field(0.1, ge=0, le=1)  # ρ_test: the same on the OOD split
    nuisance: Literal["foreground", "background"] = "foreground"  # what the colour paints
