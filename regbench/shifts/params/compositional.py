"""The compositional family's parameters (``shifts.compositional``)."""

from __future__ import annotations

from pydantic import Field

from regbench.shifts.base import ShiftParams


class CompositionalParams(ShiftParams):
    """Knobs of the compositional family."""

    holdout_fraction: float = Field(0.25, gt=0, lt=1)  # share of (shape, colour) combinations held out
    extrapolate_size: bool = True  # add the ``size_extrapolation`` split (train on middle sizes)
    # at most this many test_id images (a class-stratified subset; size_extrapolation re-renders
    # them): a test part drawn large enough for heldout_combinations need not all be scored ID
    test_size: int | None = Field(None, ge=1)
