"""Statistics over seeds and benchmarks, as rliable defines them (pure numpy).

Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical Precipice",
NeurIPS 2021, https://arxiv.org/abs/2108.13264 (code: google-research/rliable).

We re-implement rliable's few functions instead of depending on it: ``pip install rliable``
works here but pulls in arch, statsmodels, formulaic, patsy and absl-py for ~15 lines of
numpy, and its bootstrap draws from the global ``np.random`` state despite a
``random_state`` argument (docs/architecture.md, Conventions: Seeds). Every function here takes an explicit
``np.random.Generator``; the definitions follow rliable's ``metrics.py`` exactly:

- IQM = ``scipy.stats.trim_mean(scores, 0.25, axis=None)``: drop the lowest and highest
  ``int(0.25 * N)`` of all N scores, average the rest.
- probability of improvement = per task, P(X > Y) + 0.5 P(X = Y) over all run pairs
  (the Mann-Whitney U statistic / (n_x n_y)), averaged over tasks.
- stratified bootstrap = resample runs with replacement *within* each task (stratum).
- intervals are percentile intervals of the bootstrap replicates.

A cell that is a mean over seeds is not a bootstrap: with 3-5 seeds a percentile bootstrap
can never be wider than the range of the seeds and covers a 95% target only ~73% (n = 3) to
~83% (n = 5) of the time. Such means get a Student-t interval (``mean_interval``,
``t_interval``), optionally widened by a known sampling variance: the binomial error of the
test split, which every seed shares and which the seed-to-seed spread therefore cannot see
(docs/metrics.md, "Intervals"). ``paired_difference`` is the paired Student-t interval and
``holm`` the Holm-Bonferroni step-down that ``compare`` applies across benchmarks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

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


def percentile_interval(replicates: np.ndarray, level: float = DEFAULT_LEVEL, axis: int = 0):
    """(lo, hi) percentiles of bootstrap replicates along ``axis``, NaN replicates ignored."""
    tail = 100.0 * (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, on purpose
        lo, hi = np.nanpercentile(replicates, [tail, 100.0 - tail], axis=axis)
    return lo, hi


def resample_counts(n: int, rng: np.random.Generator, reps: int) -> np.ndarray:
    """How often each of n items is drawn in each of ``reps`` bootstrap resamples: (reps, n).

    Counts instead of index arrays turn every bootstrap mean into one matrix product.
    """
    idx = rng.integers(0, n, size=(reps, n))
    idx += n * np.arange(reps)[:, None]  # in place: one (reps, n) pass fewer than a sum
    return np.bincount(idx.ravel(), minlength=reps * n).reshape(reps, n).astype(np.float64)


def bootstrap_means(
    values: np.ndarray, rng: np.random.Generator, reps: int = DEFAULT_REPS, counts: np.ndarray | None = None
) -> np.ndarray:
    """Bootstrap replicates of column means, resampling rows: (n, k) -> (reps, k).

    All k columns share the same resampled rows (the runs of one cell); pass ``counts``
    (reps, n) from ``resample_counts`` to reuse a resample. NaN entries are missing
    values: each replicate averages the finite entries it drew (NaN if none).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.shape[0] == 0:
        raise ValueError("values is empty: need at least one run")
    _check_args(reps, 0.5)
    if counts is None:
        counts = resample_counts(v.shape[0], rng, reps)
    finite = np.isfinite(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ np.where(finite, v, 0.0)) / (counts @ finite.astype(np.float64))


def bootstrap_mean_ci(
    x: Sequence[float], rng: np.random.Generator, reps: int = DEFAULT_REPS, level: float = DEFAULT_LEVEL
) -> Estimate:
    """Mean of x (n,) over seeds and its percentile bootstrap interval."""
    arr = _check(x).ravel()
    _check_args(reps, level)
    lo, hi = percentile_interval(bootstrap_means(arr, rng, reps)[:, 0], level)
    return Estimate(float(arr.mean()), float(lo), float(hi), arr.size)


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


def stratified_bootstrap(
    strata: Sequence[np.ndarray],
    statistic: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    reps: int = DEFAULT_REPS,
) -> np.ndarray:
    """Replicates of ``statistic`` over pooled scores, resampling within each stratum.

    strata: one (n_i,) array of run scores per task; n_i may differ.
    statistic: maps pooled scores (reps, sum n_i) to (reps,).
    Returns (reps,).
    """
    arrays = [_check(s, f"stratum {i}").ravel() for i, s in enumerate(strata)]
    if not arrays:
        raise ValueError("no strata given")
    _check_args(reps, 0.5)
    pooled = [a[rng.integers(0, a.size, size=(reps, a.size))] for a in arrays]
    return np.asarray(statistic(np.concatenate(pooled, axis=1)))


def iqm_from_counts(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """IQM of each bootstrap resample given as counts: values (N,), counts (reps, N) -> (reps,).

    Equals ``iqm(np.repeat(values, counts[r]))`` for every r without building the resamples:
    after sorting, each value covers an interval of positions in the resample, and the IQM
    averages the positions between int(0.25 * total) and total - int(0.25 * total).
    """
    order = np.argsort(values, kind="stable")
    v = values[order]
    # float64 positions are exact (integers far below 2**53) and go to BLAS without a cast
    # np.take along an axis gathers ~4x faster than fancy indexing counts[:, order]
    end = np.cumsum(np.take(counts, order, axis=1), axis=1, dtype=np.float64)
    total = end[:, -1:].copy()  # a copy: end is clipped in place below
    cut = np.floor(total / 4)  # int(0.25 * total), as trim_mean
    # clip every value's end position into the kept window; consecutive differences are
    # then each value's overlap with it (start = previous end), in two passes over (reps, N)
    np.clip(end, cut, total - cut, out=end)
    overlap = np.diff(end, axis=1, prepend=cut)
    return (overlap @ v) / (total[:, 0] - 2 * cut[:, 0])


def iqm_ci(
    strata: Sequence[np.ndarray], rng: np.random.Generator, reps: int = DEFAULT_REPS, level: float = DEFAULT_LEVEL
) -> Estimate:
    """IQM of all benchmark x seed scores with a stratified-bootstrap interval."""
    _check_args(reps, level)
    arrays = [_check(s, f"stratum {i}").ravel() for i, s in enumerate(strata)]
    if not arrays:
        raise ValueError("no strata given")
    counts = np.concatenate([resample_counts(a.size, rng, reps) for a in arrays], axis=1)
    pooled = np.concatenate(arrays)
    lo, hi = percentile_interval(iqm_from_counts(pooled, counts), level)
    return Estimate(float(iqm(pooled)), float(lo), float(hi), pooled.size)


def _poi_one(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + 0.5 P(X = Y) over all pairs of one task."""
    diff = x[:, None] - y[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


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


def poi_from_counts(x: np.ndarray, y: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """One task's P(X > Y) for each bootstrap resample given as counts -> (reps,).

    x (nx,), y (ny,) scores; cx (reps, nx), cy (reps, ny) resample counts. Scores become
    ranks in the pooled sample, so each replicate needs a weighted histogram of y's ranks
    and its cumulative sum (O(n) per replicate instead of O(nx ny)).
    """
    uniq, inv = np.unique(np.concatenate([x, y]), return_inverse=True)
    k, rx, ry = uniq.size, inv[: x.size], inv[x.size :]
    reps = cx.shape[0]
    flat = (ry[None, :] + k * np.arange(reps)[:, None]).ravel()
    hist = np.bincount(flat, weights=cy.ravel(), minlength=reps * k).reshape(reps, k)
    # weight of y strictly below each rank plus half the ties: cumsum - hist/2, in place
    half = np.cumsum(hist, axis=1)
    hist *= 0.5
    half -= hist
    wins = np.einsum("ij,ij->i", cx, np.take(half, rx, axis=1))
    return wins / (cx.sum(axis=1) * cy.sum(axis=1))


def probability_of_improvement_ci(
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    rng: np.random.Generator,
    reps: int = DEFAULT_REPS,
    level: float = DEFAULT_LEVEL,
) -> Estimate:
    """P(X > Y) averaged over tasks, with a stratified-bootstrap interval (runs per task)."""
    point = probability_of_improvement(xs, ys)
    _check_args(reps, level)
    per_task = []
    for x, y in zip(xs, ys):
        x, y = _check(x).ravel(), _check(y).ravel()
        per_task.append(poi_from_counts(x, y, resample_counts(x.size, rng, reps), resample_counts(y.size, rng, reps)))
    lo, hi = percentile_interval(np.mean(per_task, axis=0), level)
    return Estimate(point, float(lo), float(hi), int(sum(np.size(x) for x in xs)))


def average_ranks(scores: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Rank methods along the last axis (1 = best), ties averaged, NaN stays NaN.

    scores: (..., M) e.g. (benchmarks, methods) or (reps, benchmarks, methods).
    """
    s = np.asarray(scores, dtype=np.float64)
    s = s if higher_is_better else -s
    better = (s[..., None, :] > s[..., :, None]).sum(axis=-1)  # (..., M): how many beat each
    ties = (s[..., None, :] == s[..., :, None]).sum(axis=-1) - 1
    return np.where(np.isnan(s), np.nan, better + 1.0 + 0.5 * ties)


def mean_rank(scores: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Mean over benchmarks of each method's rank: (B, M) -> (M,), missing cells skipped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a method absent everywhere -> NaN
        return np.nanmean(average_ranks(scores, higher_is_better), axis=-2)


def t_quantile(df, level: float = DEFAULT_LEVEL):
    """Two-sided Student-t quantile t_{(1+level)/2, df}; inf where df < 1 (arrays broadcast)."""
    df = np.asarray(df, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        q = _scipy_stats.t.ppf(0.5 + level / 2.0, np.where(df >= 1, df, 1.0))
    out = np.where(df >= 1, q, np.inf)
    return float(out) if out.ndim == 0 else out


def t_interval(values: np.ndarray, sampling_var=0.0, level: float = DEFAULT_LEVEL):
    """Means over the last axis with Student-t intervals, vectorized over cells.

    values: (..., n) scores of n seeds per cell, NaN = missing run. sampling_var: (...) known
    variance of each cell's mean that the seeds share and so cannot show (the binomial error
    of the test split); it is added to s²/n and keeps the t quantile at df = n - 1, which is
    conservative (the known part has infinite degrees of freedom).
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
        half = t_quantile(n - 1, level) * np.sqrt(var / n + np.asarray(sampling_var, dtype=np.float64))
    ok = n >= 2
    mean = np.where(n >= 1, mean, np.nan)
    return mean, np.where(ok, mean - half, np.nan), np.where(ok, mean + half, np.nan), n


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
