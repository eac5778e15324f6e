"""The label-shift family's parameters (``shifts.label``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from regbench.shifts.base import PooledShiftParams


class LabelShiftParams(PooledShiftParams):
    """Knobs of the label-shift family (all test-side; train and val are untouched)."""

    # Concentrations α of Dirichlet(α·1) priors; one split per (α, draw).
    dirichlet_alpha: list[Annotated[float, Field(gt=0)]] = Field([0.1, 1.0, 10.0])
    draws_per_alpha: int = Field(1, ge=1)  # independent prior draws per α
    # ρ values of the tweak-one shift: one seeded class gets probability ρ.
    tweak_one: list[Annotated[float, Field(ge=0, le=1)]] = Field([])
    size: int | None = Field(None, ge=1)  # examples per shifted split; None = len(test part)
    # without_replacement: no image twice, the split shrinks to what the pool allows
    sampling: Literal["without_replacement", "with_replacement"] = "without_replacement"
