"""rliable's aggregates over runs x tasks: the interquartile mean and (mean) ranks (pure numpy).

IQM = ``scipy.stats.trim_mean(scores, 0.25, axis=None)``: drop the lowest and highest
``int(0.25 * N)`` of all N scores, average the rest (Agarwal et al., NeurIPS 2021,
https://arxiv.org/abs/2108.13264). Their intervals are bootstrap intervals (``bootstrap``).
"""

from __future__ import annotations

import warnings

import numpy as np

from regbench.report.stats.estimate import EQUAL_TOL


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
