"""Paired tests over seeds: the paired Student-t difference and the Holm-Bonferroni step-down.

``paired_difference`` is the paired Student-t interval (and p-value) that ``compare`` and the
leaderboard's paired comparison use; ``holm`` is the step-down that ``compare`` applies across
benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as _scipy_stats

from regbench.report.stats.estimate import DEFAULT_LEVEL, EQUAL_TOL, Estimate, check_reps_level
from regbench.report.stats.intervals import t_quantile


def paired_difference(x: Sequence[float], y: Sequence[float], *, level: float = DEFAULT_LEVEL) -> Estimate:
    """Mean of x - y over shared seeds with its paired Student-t interval and p-value.

    x, y: (n,) scores of two regularizers, aligned so that x[i] and y[i] used seed i (same
    split, same init draw); a pair with a missing (NaN) side is dropped. Pairing removes the
    seed-to-seed variance the two runs share, and with it the common test split's error.
    Fewer than 2 pairs: infinite bounds and p = 1 (no claim is possible).
    """
    a, b = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same seeds: got {a.size} and {b.size} values")
    check_reps_level(1, level)
    d = a - b
    d = d[np.isfinite(d)]
    n = d.size
    if n < 2:
        mean = float(d.mean()) if n else float("nan")
        return Estimate(mean, float("-inf"), float("inf"), n, level, 1.0)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if np.ptp(d) <= EQUAL_TOL:  # equal differences: float round-off is not spread
        sd = 0.0
    se = sd / np.sqrt(n)
    half = float(t_quantile(n - 1, level)) * se
    if se > 0:
        p = float(2.0 * _scipy_stats.t.sf(abs(mean) / se, n - 1))
    else:  # every pair differs by the same amount: certain if that amount is not 0
        p = 1.0 if mean == 0 else 0.0
    return Estimate(mean, mean - half, mean + half, n, level, p)


def holm(p_values: Sequence[float], alpha: float = 1.0 - DEFAULT_LEVEL) -> np.ndarray:
    """Holm-Bonferroni step-down: which of m hypotheses are rejected at family-wise ``alpha``.

    p_values: (m,), NaN = not tested (never rejected). Sorted ascending, p_(i) is rejected
    while p_(i) <= alpha / (m - i) for i = 0, 1, ... (m counts the tested hypotheses only).
    Returns (m,) bool.
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    tested = np.flatnonzero(np.isfinite(p))
    reject = np.zeros(p.size, dtype=bool)
    m = tested.size
    for i, j in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        if p[j] > alpha / (m - i):
            break
        reject[j] = True
    return reject
