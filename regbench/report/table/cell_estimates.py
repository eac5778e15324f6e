"""Per-cell (benchmark x regularizer) numbers, vectorized: means, Student-t intervals, bootstrap.

The ok runs arrive sorted by (benchmark, regularizer, seed), so the runs of a cell are one
contiguous block of rows: every moment of every cell is one ``np.add.reduceat`` over the
(runs, metrics) array, and every cell's t interval one call of ``stats.t_bounds``.

The bootstrap replicates (for IQM, mean rank and cost vs erm) resample the ok runs of each
cell with the cell's own generator, seeded from the suite, benchmark and regularizer names,
so a cell's replicates never depend on which other cells exist; each draw is applied to all
metrics of the cell at once (one (reps, n) x (n, K) product).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbench.report import stats
from regbench.report.stats import bootstrap
from regbench.seeding import derive_seed


@dataclass
class CellArrays:
    """(B, R, K) arrays over benchmarks x regularizers x metrics; ``boot`` is (B, R, reps, K)."""

    mean: np.ndarray
    count: np.ndarray  # finite values per cell and metric
    seed_var: np.ndarray  # s² / n: the seeds' part of the variance of the mean (0 if they agree)
    samp_var: np.ndarray  # binomial variance of the cell's test split(s)
    df: np.ndarray  # degrees of freedom of seed_var: n − 1, or a two-level cell's Satterthwaite df
    lo: np.ndarray  # Student-t interval (+ binomial error) of the mean
    hi: np.ndarray
    boot: np.ndarray
    pooled: list  # per regularizer: (primary scores (N,), resample counts (reps, N)) over its benchmarks
    scores: dict  # (benchmark index, regularizer index) -> finite primary scores of the cell


def cell_arrays(
    values, sampling, bench_idx, reg_idx, shape, names, primary: int | None, suite: str, reps: int, level: float
) -> CellArrays:
    """Every cell's numbers from the ok runs.

    values, sampling: (N, K) run numbers and their binomial variances, rows sorted so that
    each cell's runs are contiguous; bench_idx, reg_idx: (N,) cell coordinates; shape: (B, R);
    names: (benchmark names, regularizer names) for the seeds; primary: column of the primary
    metric in ``values`` (its finite scores and resample counts are kept for the IQM) or None.
    """
    nb, nr = shape
    n_rows, k = values.shape
    mean = np.full((nb, nr, k), np.nan)
    count = np.zeros((nb, nr, k), dtype=np.int64)
    seed_var, samp_var = np.full((nb, nr, k), np.nan), np.zeros((nb, nr, k))
    boot = np.full((nb, nr, reps, k), np.nan)
    pooled: list = [None] * nr
    df = np.full((nb, nr, k), np.nan)
    if n_rows == 0:
        return CellArrays(mean, count, seed_var, samp_var, df, mean.copy(), mean.copy(), boot, pooled, {})
    cell = bench_idx * nr + reg_idx
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    cb, cr = bench_idx[starts], reg_idx[starts]
    finite = np.isfinite(values)
    v0 = np.where(finite, values, 0.0)
    n = np.add.reduceat(finite.astype(np.int64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.add.reduceat(v0, starts) / n
        sv = np.add.reduceat(np.where(finite, sampling, 0.0), starts) / np.maximum(n, 1)
        block = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n_rows]))
        dev = np.where(finite, values - m[block], 0.0)
        var = np.add.reduceat(dev**2, starts) / (n - 1)
        hi_v = np.maximum.reduceat(np.where(finite, values, -np.inf), starts)
        lo_v = np.minimum.reduceat(np.where(finite, values, np.inf), starts)
    var = np.where(hi_v - lo_v <= stats.EQUAL_TOL, 0.0, var)  # equal seeds: round-off is not spread
    with np.errstate(invalid="ignore", divide="ignore"):
        sev = var / n
    lo, hi = stats.t_bounds(m, sev, n, sv, level)
    mean[cb, cr], count[cb, cr], seed_var[cb, cr], samp_var[cb, cr] = np.where(n > 0, m, np.nan), n, sev, sv
    df[cb, cr] = n - 1.0
    t_lo, t_hi = np.full((nb, nr, k), np.nan), np.full((nb, nr, k), np.nan)
    t_lo[cb, cr], t_hi[cb, cr] = lo, hi
    ends = np.r_[starts[1:], n_rows]
    benches, regs = names
    by_reg: dict[int, list] = {}
    scores = {}
    for s, e, b, r in zip(starts, ends, cb, cr):
        v = values[s:e]
        rng = np.random.default_rng(derive_seed("leaderboard", suite, benches[b], regs[r]))
        counts = bootstrap.resample_counts(e - s, rng, reps)
        boot[b, r] = bootstrap.bootstrap_means(v, rng, reps, counts=counts)
        if primary is not None:
            ok = np.isfinite(v[:, primary])
            scores[int(b), int(r)] = v[ok, primary]
            rows = counts.T if ok.all() else counts.T[ok]  # (n_ok, reps); a view when nothing is missing
            by_reg.setdefault(int(r), []).append((v[ok, primary], rows))
    for r, parts in by_reg.items():
        if any(p[0].size for p in parts):
            pooled[r] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts], axis=0).T)
    return CellArrays(mean, count, seed_var, samp_var, df, t_lo, t_hi, boot, pooled, scores)


def suite_t_interval(cells: CellArrays, k: int, level: float):
    """Interval of each regularizer's mean over benchmarks from the first ``k`` metrics: (R, k) lo, hi.

    Var = Σ_b (v_b + binomial_b) / B², v_b a cell's estimated variance (s_b² / n_b, or a
    two-level cell's whole se², ``paired_cells.crossed_cells``): the benchmarks are independent
    trainings on disjoint images. The t quantile takes the Welch-Satterthwaite degrees of
    freedom of the estimated parts (each with its ``cells.df``) with the binomial parts as
    known. A regularizer with a one-seed cell has no interval (NaN).
    """
    mean, count = cells.mean[..., :k], cells.count[..., :k]
    finite = np.isfinite(mean)
    nb = finite.sum(axis=0)
    a = np.where(finite, cells.seed_var[..., :k], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        known = np.where(finite, cells.samp_var[..., :k], 0.0).sum(axis=0) / nb**2
        parts = a / nb**2
        denom = np.where(finite & (cells.df[..., :k] > 0), parts**2 / cells.df[..., :k], 0.0).sum(axis=0)
        df = np.where(denom > 0, (parts.sum(axis=0) + known) ** 2 / denom, np.inf)
        half = stats.t_quantile(df, level) * np.sqrt(parts.sum(axis=0) + known)
    known_ok = (nb > 0) & ~(finite & (count < 2)).any(axis=0)
    centre = np.where(nb > 0, np.where(finite, mean, 0.0).sum(axis=0) / np.maximum(nb, 1), np.nan)
    return np.where(known_ok, centre - half, np.nan), np.where(known_ok, centre + half, np.nan)
