"""The concept-drift family's parameters (``shifts.drift``)."""

from __future__ import annotations

from pydantic import Field

from regbench.shifts.base import ShiftParams


class DriftParams(ShiftParams):
    """Knobs of the concept-drift family."""

    swap_fraction: float = Field(0.2, gt=0, le=1)  # share of classes whose labels swap in pairs
    slices: int = Field(3, ge=1)  # time slices; slice t relabels t/slices of the swapped classes' examples
