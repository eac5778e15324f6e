"""Stratified bootstrap of rliable (pure numpy): resample counts, replicates, percentile intervals.

Agarwal et al. 2021 (https://arxiv.org/abs/2108.13264; docs/metrics.md, "Intervals"): runs are
resampled with replacement *within* each task (stratum), and an interval is the percentile
interval of the replicates. Every function takes an explicit ``np.random.Generator``
(docs/architecture.md, Conventions: Seeds). The leaderboard uses it for the aggregates that
are not means over seeds: IQM, mean rank and cost vs erm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from regbench.report.stats.aggregates import iqm
from regbench.report.stats.estimate import DEFAULT_LEVEL, DEFAULT_REPS, Estimate, check_reps_level, check_scores


def percentile_interval(replicates: np.ndarray, level: float = DEFAULT_LEVEL, axis: int = 0):
    """(lo, hi) percentiles of bootstrap replicates along ``axis``, NaN replicates ignored.

    Equal to ``np.nanpercentile`` (linear): slices without NaN go through one vectorized
    ``np.percentile``, because nanpercentile loops over slices in Python once any NaN exists.
    """
    tail = 100.0 * (1.0 - level) / 2.0
    r = np.moveaxis(np.asarray(replicates, dtype=np.float64), axis, 0)
    shape = r.shape[1:]
    flat = r.reshape(r.shape[0], -1)
    nan = np.isnan(flat)
    clean, empty = ~nan.any(axis=0), nan.all(axis=0)
    out = np.full((2, flat.shape[1]), np.nan)
    if clean.any():
        out[:, clean] = np.percentile(flat[:, clean], [tail, 100.0 - tail], axis=0)
    mixed = ~clean & ~empty  # some replicates drew only missing runs: rare, slice by slice
    if mixed.any():
        out[:, mixed] = np.nanpercentile(flat[:, mixed], [tail, 100.0 - tail], axis=0)
    lo, hi = out.reshape(2, *shape)
    return (float(lo), float(hi)) if lo.ndim == 0 else (lo, hi)


def resample_counts(n: int, rng: np.random.Generator, reps: int) -> np.ndarray:
    """How often each of n items is drawn in each of ``reps`` bootstrap resamples: (reps, n).

    Counts instead of index arrays turn every bootstrap mean into one matrix product. The
    result is the transpose of a C-ordered (n, reps) array: selecting or concatenating items
    (``counts.T[rows]``) and the IQM's gather in sorted order then move whole rows.
    """
    idx = rng.integers(0, n, size=(reps, n))
    idx *= reps  # item-major flat positions, in place: item * reps + replicate
    idx += np.arange(reps)[:, None]
    return np.bincount(idx.ravel(), minlength=reps * n).reshape(n, reps).astype(np.float64).T


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
    check_reps_level(reps, 0.5)
    if counts is None:
        counts = resample_counts(v.shape[0], rng, reps)
    finite = np.isfinite(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ np.where(finite, v, 0.0)) / (counts @ finite.astype(np.float64))


def bootstrap_mean_ci(
    x: Sequence[float], rng: np.random.Generator, reps: int = DEFAULT_REPS, level: float = DEFAULT_LEVEL
) -> Estimate:
    """Mean of x (n,) over seeds and its percentile bootstrap interval."""
    arr = check_scores(x).ravel()
    check_reps_level(reps, level)
    lo, hi = percentile_interval(bootstrap_means(arr, rng, reps)[:, 0], level)
    return Estimate(float(arr.mean()), float(lo), float(hi), arr.size)


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
    arrays = [check_scores(s, f"stratum {i}").ravel() for i, s in enumerate(strata)]
    if not arrays:
        raise ValueError("no strata given")
    check_reps_level(reps, 0.5)
    pooled = [a[rng.integers(0, a.size, size=(reps, a.size))] for a in arrays]
    return np.asarray(statistic(np.concatenate(pooled, axis=1)))


def iqm_from_counts(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """IQM of each bootstrap resample given as counts: values (N,), counts (reps, N) -> (reps,).

    Equals ``iqm(np.repeat(values, counts[r]))`` for every r without building the resamples:
    after sorting, each value covers an interval of positions in the resample, and the IQM
    averages the positions between int(0.25 * total) and total - int(0.25 * total).
    Works item-major on ``counts.T`` (contiguous when made by ``resample_counts``).
    """
    order = np.argsort(values, kind="stable")
    v = values[order]
    # float64 positions are exact (integers far below 2**53); one row per item in sorted order
    end = np.take(counts.T, order, axis=0).astype(np.float64, copy=False)  # (N, reps), a fresh array
    for i in range(1, end.shape[0]):  # cumsum over items, row by row: np.cumsum(axis=0) is ~5x slower
        np.add(end[i - 1], end[i], out=end[i])
    total = end[-1].copy()  # a copy: end is clipped in place below
    cut = np.floor(total / 4)  # int(0.25 * total), as trim_mean
    # clip every value's end position e_j into the kept window; value j then covers
    # e_j - e_(j-1) kept positions (e_(-1) = cut). Summed by parts, the kept sum is
    # Σ_j e_j (v_j - v_(j+1)) + e_last v_last - cut v_0: no (N, reps) difference pass
    np.maximum(end, cut, out=end)
    np.minimum(end, total - cut, out=end)
    w = np.append(v[:-1] - v[1:], v[-1])
    return (w @ end - cut * v[0]) / (total - 2 * cut)


def iqm_ci(
    strata: Sequence[np.ndarray], rng: np.random.Generator, reps: int = DEFAULT_REPS, level: float = DEFAULT_LEVEL
) -> Estimate:
    """IQM of all benchmark x seed scores with a stratified-bootstrap interval."""
    check_reps_level(reps, level)
    arrays = [check_scores(s, f"stratum {i}").ravel() for i, s in enumerate(strata)]
    if not arrays:
        raise ValueError("no strata given")
    counts = np.concatenate([resample_counts(a.size, rng, reps).T for a in arrays], axis=0).T
    pooled = np.concatenate(arrays)
    lo, hi = percentile_interval(iqm_from_counts(pooled, counts), level)
    return Estimate(float(iqm(pooled)), float(lo), float(hi), pooled.size)
