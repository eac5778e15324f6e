"""The one result type of every statistic here (``Estimate``), the shared defaults and input checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_REPS = 1000  # bootstrap replicates; rliable's examples use 2,000-50,000 on few cells
DEFAULT_LEVEL = 0.95  # two-sided confidence level of every interval
EQUAL_TOL = 1e-12  # scores (fractions, seconds) closer than this are the same value


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval [lo, hi] at ``level`` and the number of values behind it."""

    mean: float
    lo: float
    hi: float
    n: int
    level: float = DEFAULT_LEVEL
    p_value: float = float("nan")  # two-sided p of "mean = 0" where the interval is a t interval


def check_scores(x: object, name: str = "x") -> np.ndarray:
    """``x`` as a float64 array; raises on an empty array or a NaN/inf (a failed run left in)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one score")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf: drop failed runs before computing statistics")
    return arr


def check_reps_level(reps: int, level: float) -> None:
    """Raise unless ``reps`` >= 1 bootstrap replicates and ``level`` is in (0, 1)."""
    if int(reps) < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
