"""Paired comparison of a new regularizer with a baseline over seeds, and an honest verdict.

Pure numpy, no torch (the report stage imports it). Runs are paired by (benchmark, seed):
the same seed gives both regularizers the same split, initialization seed and batch order,
so the per-pair difference removes most seed-to-seed noise.

The 95% CI of the mean paired difference is, by default, Student's t interval. With the
3–5 seeds a benchmark affords, a percentile bootstrap under-covers — with n pairs it can
never be wider than the range of the n differences, so three positive differences would
always read as a "win". The bootstrap is available (``method="bootstrap"``, seeded
``numpy.random.Generator``) for larger n. The verdict never claims more than the interval:
``win`` only if the CI excludes 0 in the new regularizer's favour, ``loss`` if it excludes 0
against it, else ``inconclusive``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# two-sided 95% Student t quantiles t_{0.975, df}; beyond the table the next smaller df's
# value is used, which is conservative because t quantiles fall with df
_T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}


def t_quantile_975(df: int) -> float:
    """t_{0.975, df} from the table (conservative between table entries); inf for df < 1."""
    if df < 1:
        return float("inf")
    return _T975[max(k for k in _T975 if k <= df)]


@dataclass(frozen=True)
class PairedDiff:
    """Mean of ``new − base`` over n pairs with its CI (``lo``, ``hi``); ±inf when n < 2."""

    mean: float
    lo: float
    hi: float
    n: int
    level: float = 0.95
    method: str = "t"


def _pairs(new, base) -> np.ndarray:
    new, base = np.asarray(new, dtype=np.float64), np.asarray(base, dtype=np.float64)
    if new.shape != base.shape or new.ndim != 1:
        raise ValueError(f"paired arrays must both be (n,); got {new.shape} and {base.shape}")
    d = new - base
    return d[np.isfinite(d)]  # a pair with a missing side carries no information


def paired_difference(
    new,
    base,
    rng: np.random.Generator | None = None,
    level: float = 0.95,
    method: str = "t",
    reps: int = 10_000,
) -> PairedDiff:
    """Mean paired difference and its CI. new, base: (n,) scores of the same n pairs (NaN = missing).

    ``method="t"``: Student's t interval (only ``level=0.95``). ``method="bootstrap"``:
    percentile bootstrap of the mean with ``reps`` resamples drawn from ``rng``.
    """
    d = _pairs(new, base)
    n = len(d)
    if n == 0:
        return PairedDiff(float("nan"), float("-inf"), float("inf"), 0, level, method)
    mean = float(d.mean())
    if n < 2:
        return PairedDiff(mean, float("-inf"), float("inf"), n, level, method)
    if method == "t":
        if level != 0.95:
            raise ValueError("method='t' supports level=0.95 only; use method='bootstrap' for other levels")
        half = t_quantile_975(n - 1) * float(d.std(ddof=1)) / np.sqrt(n)
        return PairedDiff(mean, mean - half, mean + half, n, level, method)
    if method == "bootstrap":
        if rng is None:
            raise ValueError("method='bootstrap' needs a seeded numpy Generator (rng=...)")
        means = d[rng.integers(0, n, size=(reps, n))].mean(axis=1)
        alpha = (1.0 - level) / 2
        lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
        return PairedDiff(mean, float(lo), float(hi), n, level, method)
    raise ValueError(f"unknown method '{method}'; expected 't' or 'bootstrap'")


def probability_of_improvement(new, base) -> float:
    """P(X > Y) + ½ P(X = Y) over all pairs of runs (the Mann–Whitney U statistic / (n·m)).

    new: (n,), base: (m,) scores, higher is better (NaN dropped). As rliable's probability
    of improvement (Agarwal et al., arXiv:2108.13264) for one task.
    """
    x = np.asarray(new, dtype=np.float64)
    y = np.asarray(base, dtype=np.float64)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) == 0 or len(y) == 0:
        return float("nan")
    gt = (x[:, None] > y[None, :]).mean()
    eq = (x[:, None] == y[None, :]).mean()
    return float(gt + 0.5 * eq)


def verdict(diff: PairedDiff, higher_is_better: bool = True) -> str:
    """``win`` / ``loss`` / ``inconclusive`` for the new regularizer from a paired difference."""
    lo, hi = (diff.lo, diff.hi) if higher_is_better else (-diff.hi, -diff.lo)
    if diff.n >= 2 and lo > 0:
        return "win"
    if diff.n >= 2 and hi < 0:
        return "loss"
    return "inconclusive"


def verdict_line(
    metric: str, against: str, diff: PairedDiff, higher_is_better: bool = True, scale: float = 100.0, unit: str = " pts"
) -> str:
    """One sentence: verdict, the difference with its CI, and why."""
    v = verdict(diff, higher_is_better)
    if diff.n < 2:
        return (
            f"{v} vs {against}: {metric} — only {diff.n} paired run(s) finished; a confidence interval needs at least 2"
        )
    m, lo, hi = diff.mean * scale, diff.lo * scale, diff.hi * scale
    ci = f"{diff.level:.0%} CI [{lo:+.2f}, {hi:+.2f}]"
    if v == "inconclusive":
        why = "includes 0: no claim either way"
    elif v == "win":
        why = "excludes 0 in favour of the new regularizer"
    else:
        why = "excludes 0 against the new regularizer"
    better = "" if higher_is_better else " (lower is better)"
    return f"{v} vs {against}: {metric}{better} {m:+.2f}{unit}, {ci} {why} (n={diff.n} paired runs)"
