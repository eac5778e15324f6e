"""Statistics over seeds and benchmarks (pure numpy; the bootstrap is in ``report.bootstrap``).

rliable's definitions (Agarwal et al., NeurIPS 2021, https://arxiv.org/abs/2108.13264),
re-implemented instead of depending on rliable, whose install pulls in arch, statsmodels,
formulaic, patsy and absl-py for ~15 lines of numpy, and whose bootstrap draws from the
global ``np.random`` state (docs/architecture.md, Conventions: Seeds):

- IQM = ``scipy.stats.trim_mean(scores, 0.25, axis=None)``: drop the lowest and highest
  ``int(0.25 * N)`` of all N scores, average the rest.
- probability of improvement = per task, P(X > Y) + 0.5 P(X = Y) over all run pairs
  (the Mann-Whitney U statistic / (n_x n_y)), averaged over tasks.

Intervals (docs/metrics.md, "Intervals"):

- A cell that is a mean over seeds gets a Student-t interval (``mean_interval``,
  ``t_interval``, ``t_bounds``), optionally widened by a known sampling variance: the
  binomial error of the test split, which every seed shares and which the seed-to-seed
  spread therefore cannot see. The t quantile takes Welch-Satterthwaite degrees of freedom.
- P(X > Y) gets a score interval (``probability_of_improvement_ci``): rliable's percentile
  bootstrap is degenerate at 0 and 1 with 3 seeds.
- ``paired_difference`` is the paired Student-t interval and ``holm`` the Holm-Bonferroni
  step-down that ``compare`` applies across benchmarks.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats
from scipy.special import ndtri

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


def _check(x: object, name: str = "x") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one score")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf: drop failed runs before computing statistics")
    return arr


def _check_args(reps: int, level: float) -> None:
    if int(reps) < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def iqm(scores: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Interquartile mean: ``scipy.stats.trim_mean(scores, 0.25, axis)`` (rliable's IQM).

    With ``axis=None`` all scores are pooled (runs x tasks), as rliable does; with an axis,
    the trimmed mean is taken along it (used to evaluate many bootstrap replicates at once).
    """
    a = np.asarray(scores, dtype=np.float64)
    if axis is None:
        a, axis = a.ravel(), 0
    a = np.moveaxis(a, axis, -1)
    n = a.shape[-1]
    if n == 0:
        raise ValueError("iqm of an empty array")
    cut = int(0.25 * n)
    part = np.partition(a, (cut, n - cut - 1), axis=-1) if n - cut - 1 > cut else np.sort(a, axis=-1)
    out = part[..., cut : n - cut].mean(axis=-1)
    return float(out) if out.ndim == 0 else out


def average_ranks(scores: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Rank methods along the last axis (1 = best), ties (within ``EQUAL_TOL``) averaged, NaN stays NaN.

    scores: (..., M) e.g. (benchmarks, methods) or (reps, benchmarks, methods).
    """
    s = np.asarray(scores, dtype=np.float64)
    s = s if higher_is_better else -s
    diff = s[..., None, :] - s[..., :, None]  # (..., M, M): [i, j] = s_j - s_i
    better = (diff > EQUAL_TOL).sum(axis=-1)  # (..., M): how many beat each
    ties = (np.abs(diff) <= EQUAL_TOL).sum(axis=-1) - 1  # within EQUAL_TOL: the same score
    return np.where(np.isnan(s), np.nan, better + 1.0 + 0.5 * ties)


def mean_rank(scores: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Mean over benchmarks of each method's rank: (B, M) -> (M,), missing cells skipped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a method absent everywhere -> NaN
        return np.nanmean(average_ranks(scores, higher_is_better), axis=-2)


def t_quantile(df, level: float = DEFAULT_LEVEL):
    """Two-sided Student-t quantile t_{(1+level)/2, df}; inf where df < 1, the normal quantile
    where df is infinite (arrays broadcast)."""
    df = np.asarray(df, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        q = _scipy_stats.t.ppf(0.5 + level / 2.0, np.where((df >= 1) & np.isfinite(df), df, 1.0))
    out = np.where(df >= 1, np.where(np.isfinite(df), q, ndtri(0.5 + level / 2.0)), np.inf)
    return float(out) if out.ndim == 0 else out


def satterthwaite_df(seed_var, n, known_var=0.0):
    """Welch-Satterthwaite degrees of freedom of (sum of seed parts) + (known variance).

    seed_var: (..., B) estimated variances of means, s_b² / n_b, each with n_b - 1 degrees of
    freedom; known_var: (...) variance taken as known (infinite df: the binomial error of
    a 450-image split is known to a few percent). df = (Σ a_b + known)² / Σ a_b² / (n_b - 1);
    infinite where no seed part varies. Returns (...).
    """
    a = np.asarray(seed_var, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.where(n > 1, a**2 / (n - 1), 0.0).sum(axis=-1)
        total = a.sum(axis=-1) + np.asarray(known_var, dtype=np.float64)
        return np.where(denom > 0, total**2 / denom, np.inf)


def t_bounds(mean, seed_var, n, known_var=0.0, level: float = DEFAULT_LEVEL):
    """(lo, hi) of cell means from their moments, vectorized: each argument is (...).

    seed_var: s² / n of the seeds (0 when they agree); known_var: the split's binomial error
    of the mean. Half-width = t_{df} * sqrt(seed_var + known_var), df by Welch-Satterthwaite
    (n - 1 when there is no known part, infinite when only the known part is left). With one
    finite value (n < 2) there is no interval (NaN).
    """
    n = np.asarray(n)
    known = np.asarray(known_var, dtype=np.float64)
    df = satterthwaite_df(np.asarray(seed_var, dtype=np.float64)[..., None], n[..., None], known)
    with np.errstate(invalid="ignore"):
        half = t_quantile(df, level) * np.sqrt(seed_var + known)
    ok = n >= 2
    return np.where(ok, mean - half, np.nan), np.where(ok, mean + half, np.nan)


def t_interval(values: np.ndarray, sampling_var=0.0, level: float = DEFAULT_LEVEL):
    """Means over the last axis with Student-t intervals, vectorized over cells.

    values: (..., n) scores of n seeds per cell, NaN = missing run. sampling_var: (...) known
    variance of each cell's mean that the seeds share and so cannot show (the binomial error
    of the test split); it is added to s²/n, and the t quantile takes the Welch-Satterthwaite
    degrees of freedom of the sum (``t_bounds``): df = n - 1 would also stretch the known
    part by t_{n-1} (4.3 at n = 3) and covered 99.5-100% in simulation.
    Returns (mean, lo, hi, n), each (...). A cell with one finite value has no interval (NaN
    bounds): one seed says nothing about seed-to-seed spread. A cell whose seeds all agree
    and that has no sampling variance gets lo = hi = mean, the only zero-width case.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    n = finite.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, v, 0.0).sum(axis=-1) / n
        dev = np.where(finite, v - mean[..., None], 0.0)
        var = (dev**2).sum(axis=-1) / (n - 1)
        spread = np.where(finite, v, -np.inf).max(axis=-1) - np.where(finite, v, np.inf).min(axis=-1)
    var = np.where(spread <= EQUAL_TOL, 0.0, var)  # equal seeds: float round-off is not spread
    with np.errstate(invalid="ignore", divide="ignore"):
        lo, hi = t_bounds(mean, var / n, n, sampling_var, level)
    mean = np.where(n >= 1, mean, np.nan)
    return mean, lo, hi, n


def mean_interval(x: Sequence[float], sampling_var: float = 0.0, *, level: float = DEFAULT_LEVEL) -> Estimate:
    """Mean of x (n,) over seeds with its Student-t interval (see ``t_interval``).

    NaN entries are missing runs and are dropped; with fewer than 2 finite values the
    bounds are NaN (no interval).
    """
    _check_args(1, level)
    m, lo, hi, n = t_interval(np.asarray(x, dtype=np.float64).ravel(), sampling_var, level)
    return Estimate(float(m), float(lo), float(hi), int(n), level)


def binomial_variance(accuracy, n_test):
    """Variance p(1 - p) / N of an accuracy measured on N test examples (arrays broadcast)."""
    p = np.asarray(accuracy, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return p * (1.0 - p) / np.asarray(n_test, dtype=np.float64)


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
    _check_args(1, level)
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
    _check_args(1, level)
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


def overlap_tiers(order_lo: Sequence[float], order_hi: Sequence[float]) -> np.ndarray:
    """Tiers of rows already sorted best first whose intervals overlap the tier leader's.

    order_lo, order_hi: (M,) interval bounds in rank order. Row 0 leads tier 0; every next
    row whose interval overlaps the leader's joins it; the first row that does not leads
    the next tier. A row without an interval (NaN) forms its own tier. Returns (M,) ints.
    """
    lo, hi = np.asarray(order_lo, dtype=np.float64), np.asarray(order_hi, dtype=np.float64)
    tiers = np.zeros(lo.size, dtype=np.int64)
    tier, lead = -1, None
    for i in range(lo.size):
        has = np.isfinite(lo[i]) and np.isfinite(hi[i])
        joins = has and lead is not None and lo[i] <= hi[lead] and lo[lead] <= hi[i]
        if not joins:
            tier, lead = tier + 1, (i if has else None)
        tiers[i] = tier
    return tiers
