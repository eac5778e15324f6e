"""Student-t intervals of means over seeds, widened by a known sampling variance (pure numpy).

A cell that is a mean over seeds gets a Student-t interval (``mean_interval``,
``t_interval``, ``t_bounds``), optionally widened by a known sampling variance: the
binomial error of the test split, which every seed shares and which the seed-to-seed
spread therefore cannot see. The t quantile takes Welch-Satterthwaite degrees of freedom
(docs/metrics.md, "Intervals").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as _scipy_stats
from scipy.special import ndtri

from regbench.report.stats.estimate import DEFAULT_LEVEL, EQUAL_TOL, Estimate, check_reps_level


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
    check_reps_level(1, level)
    m, lo, hi, n = t_interval(np.asarray(x, dtype=np.float64).ravel(), sampling_var, level)
    return Estimate(float(m), float(lo), float(hi), int(n), level)


def binomial_variance(accuracy, n_test):
    """Variance p(1 - p) / N of an accuracy measured on N test examples (arrays broadcast)."""
    p = np.asarray(accuracy, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return p * (1.0 - p) / np.asarray(n_test, dtype=np.float64)
