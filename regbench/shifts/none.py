"""The ``none`` shift: the dataset's own train / val / test, and no OOD splits.

For in-distribution-only benchmarks (and as the control for every other family).
"""

from __future__ import annotations

from regbench.data.base import Loaded, Splits
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits


@register_shift("none")
class NoShift(Shift):
    """No shift: test_id is the clean test part; ``ood`` is empty."""

    family = "none"
    keeps_dataset_envs = True

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        train, val, test = base_splits(loaded)
        return Splits(train=train, val=val, test_id=test, ood={}, info=loaded.info)
