"""rliable's probability of improvement P(X > Y) with a score interval (pure numpy).

Per task, P(X > Y) + 0.5 P(X = Y) over all run pairs (the Mann-Whitney U statistic /
(n_x n_y)), averaged over tasks (Agarwal et al., NeurIPS 2021, https://arxiv.org/abs/2108.13264).
Its interval is a score interval (``probability_of_improvement_ci``): rliable's percentile
bootstrap is degenerate at 0 and 1 with 3 seeds (docs/metrics.md, "Intervals").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import ndtri

from regbench.report.stats.estimate import DEFAULT_LEVEL, EQUAL_TOL, Estimate, check_reps_level


def _poi_one(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + 0.5 P(X = Y) over all pairs of one task; scores within ``EQUAL_TOL`` are equal
    (two runs with the same accuracy may differ in the last bit, by the order of a sum)."""
    diff = x[:, None] - y[None, :]
    return float(((diff > EQUAL_TOL).sum() + 0.5 * (np.abs(diff) <= EQUAL_TOL).sum()) / diff.size)


def probability_of_improvement(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> float:
    """rliable's P(X > Y): per task over all seed pairs, then averaged over tasks.

    xs, ys: one array of run scores per task (task i of xs is compared with task i of ys),
    higher is better. Non-finite scores (failed runs) are dropped; a task left with no score
    on either side is skipped; NaN when no task is left.
    """
    if len(xs) != len(ys) or not xs:
        raise ValueError(f"need the same non-zero number of tasks, got {len(xs)} and {len(ys)}")
    per_task = []
    for x, y in zip(xs, ys):
        x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if x.size and y.size:
            per_task.append(_poi_one(x, y))
    return float(np.mean(per_task)) if per_task else float("nan")


def auc_variance(theta, m, n):
    """Variance of a Mann-Whitney AUC estimate from m x n scores at the true value ``theta``.

    Newcombe's "Method 5" (Stat. Med. 2006, 25:559-573): Hanley & McNeil's variance with
    both sample sizes replaced by their mean N* = (m + n) / 2, which makes it symmetric in
    theta <-> 1 - theta: theta(1 - theta) / (m n) * [1 + (N* - 1)((1 - theta)/(2 - theta) + theta/(1 + theta))].
    Arrays broadcast.
    """
    t = np.asarray(theta, dtype=np.float64)
    extra = ((np.asarray(m) + np.asarray(n)) / 2.0 - 1.0) * ((1.0 - t) / (2.0 - t) + t / (1.0 + t))
    return t * (1.0 - t) / (np.asarray(m) * np.asarray(n)) * (1.0 + extra)


def poi_score_interval(theta_hat, m, n, level: float = DEFAULT_LEVEL):
    """Score interval for the mean of B per-task AUCs: theta_hat, m, n (..., B) -> lo, hi (...).

    The set of theta with (|mean(theta_hat) - theta| - c)² <= z² Σ_b V_b(theta) / B², where
    V_b is ``auc_variance`` of task b evaluated at theta (not at the estimate: as Wilson's
    interval for a proportion, so an estimate of 0 or 1 still gets a width) and c = half the
    grid step of the mean, 0.5 mean_b(1 / (m_b n_b)) / B (0.5 / (B m n) for equal sizes): a
    continuity correction for the few values an AUC over 3 x 3 seeds can take. One common
    theta for all tasks makes the variance the largest it can be for tasks that differ
    (conservative). Solved by bisection on each side of the estimate, vectorized over (...).
    """
    th = np.asarray(theta_hat, dtype=np.float64)
    m, n = np.broadcast_to(np.asarray(m, np.float64), th.shape), np.broadcast_to(np.asarray(n, np.float64), th.shape)
    b = th.shape[-1]
    centre = th.mean(axis=-1)
    z2 = float(ndtri(0.5 + level / 2.0)) ** 2
    c = 0.5 * (1.0 / (m * n)).mean(axis=-1) / b

    def outside(t):
        gap = np.maximum(np.abs(centre - t) - c, 0.0)
        return gap * gap > z2 * auc_variance(t[..., None], m, n).sum(axis=-1) / b**2

    lo_out, lo_in = np.zeros_like(centre), centre.copy()  # outside() at lo_out unless it is the bound 0
    hi_in, hi_out = centre.copy(), np.ones_like(centre)
    for _ in range(50):  # 2^-50: far below the 2 digits shown
        mid = 0.5 * (lo_out + lo_in)
        out = outside(mid)
        lo_out, lo_in = np.where(out, mid, lo_out), np.where(out, lo_in, mid)
        mid = 0.5 * (hi_in + hi_out)
        out = outside(mid)
        hi_in, hi_out = np.where(out, hi_in, mid), np.where(out, mid, hi_out)
    lo = np.where(outside(np.zeros_like(centre)), lo_in, 0.0)
    hi = np.where(outside(np.ones_like(centre)), hi_in, 1.0)
    return (float(lo), float(hi)) if lo.ndim == 0 else (lo, hi)


def probability_of_improvement_ci(
    xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], level: float = DEFAULT_LEVEL
) -> Estimate:
    """P(X > Y) averaged over tasks with its score interval (``poi_score_interval``).

    xs, ys: one array of run scores per task, higher is better; non-finite scores are
    dropped and a task without a score on either side is skipped. The interval replaces
    rliable's stratified percentile bootstrap, which is degenerate with 3 seeds: when one
    side wins every pair every resample does too, and it printed 1.00 [1.00, 1.00].
    Coverage of 95% intervals in simulation (tests/test_stats.py): >= 95% at n = 3 and 5.
    NaN bounds (and mean) when no task is left. n = the number of X scores used.
    """
    check_reps_level(1, level)
    if len(xs) != len(ys) or not xs:
        raise ValueError(f"need the same non-zero number of tasks, got {len(xs)} and {len(ys)}")
    per_task, sizes = [], []
    for x, y in zip(xs, ys):
        x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if x.size and y.size:
            per_task.append(_poi_one(x, y))
            sizes.append((x.size, y.size))
    if not per_task:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, level)
    m, n = np.array(sizes, dtype=np.float64).T
    lo, hi = poi_score_interval(np.array(per_task), m, n, level)
    return Estimate(float(np.mean(per_task)), lo, hi, int(m.sum()), level)
