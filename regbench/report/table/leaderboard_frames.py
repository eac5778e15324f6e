"""Leaderboard frames from the cell arrays: one row per (benchmark, regularizer), one per regularizer.

Both frames hold ``key``, ``key_lo``, ``key_hi``, ``key_n`` for every metric, with every
interval clipped to its column's range (``Column.bounds``: a clipped interval still holds
every value the unclipped one held inside the range, so coverage cannot drop).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from regbench.report import stats
from regbench.report.stats import bootstrap
from regbench.report.table.cell_estimates import CellArrays, suite_t_interval
from regbench.report.table.columns import BASELINE, Column


def _cost(cells: CellArrays, keys: list[str], regs: list[str]):
    """cost_vs_erm: (B, R) means and (B, R, reps) replicates, each cell's cost / erm's, replicate by replicate."""
    ts = keys.index("cost_seconds")
    nb, nr = cells.mean.shape[:2]
    mean, boot = np.full((nb, nr), np.nan), np.full((nb, nr, cells.boot.shape[2]), np.nan)
    if BASELINE in regs:
        e = regs.index(BASELINE)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = cells.mean[..., ts] / cells.mean[:, e : e + 1, ts]
            boot = cells.boot[..., ts] / cells.boot[:, e : e + 1, :, ts]
    return mean, boot, cells.count[..., ts]


def _put(out: dict, col: Column | None, key: str, mean, lo, hi, n) -> None:
    if col is not None:
        lo, hi = col.clip(lo, hi)
    out[key], out[key + "_lo"], out[key + "_hi"], out[key + "_n"] = mean, lo, hi, n


def cell_frame(cells: CellArrays, keys, benches, regs, status, primary, by_key: dict, level: float) -> pd.DataFrame:
    """One row per (benchmark, regularizer) with at least one run, in (benchmark, regularizer) order."""
    nb, nr = len(benches), len(regs)
    flat = nb * nr
    cols: dict = {
        "benchmark": np.repeat(np.array(benches, dtype=object), nr),
        "regularizer": np.tile(np.array(regs, dtype=object), nb),
    }
    for j, key in enumerate(keys):  # means over seeds: Student-t (+ binomial), not the bootstrap
        _put(
            cols,
            by_key.get(key),
            key,
            cells.mean[..., j].ravel(),
            cells.lo[..., j].ravel(),
            cells.hi[..., j].ravel(),
            cells.count[..., j].ravel(),
        )
    c_mean, c_boot, c_n = _cost(cells, keys, regs)
    c_lo, c_hi = bootstrap.percentile_interval(c_boot.reshape(flat, -1), level, axis=1)
    _put(cols, by_key.get("cost_vs_erm"), "cost_vs_erm", c_mean.ravel(), c_lo, c_hi, c_n.ravel())
    frame = pd.DataFrame(cols)
    frame["seeds"], frame["failed"], frame["diverged"], frame["collapsed"] = (status[..., i].ravel() for i in range(4))
    frame["seeds_max"] = np.repeat(status[..., 0].max(axis=1), nr)
    return frame[status.sum(axis=2).ravel() > 0].reset_index(drop=True)  # only cells with runs


def suite_frame(cells: CellArrays, keys, benches, regs, status, primary, by_key: dict, level: float) -> pd.DataFrame:
    """One row per regularizer: means over benchmarks, mean rank, IQM and P(>erm), unranked."""
    k = len(keys)
    cols: dict = {"regularizer": list(regs)}
    s_lo, s_hi = suite_t_interval(cells, k, level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # regularizers missing a benchmark -> NaN
        s_mean = np.nanmean(cells.mean, axis=0)
        c_mean, c_boot, c_n = _cost(cells, keys, regs)
        cost_mean, cost_boot = np.nanmean(c_mean, axis=0), np.nanmean(c_boot, axis=0)
    for j, key in enumerate(keys):
        _put(cols, by_key.get(key), key, s_mean[:, j], s_lo[:, j], s_hi[:, j], cells.count[..., j].sum(axis=0))
    _put(
        cols,
        by_key.get("cost_vs_erm"),
        "cost_vs_erm",
        cost_mean,
        *bootstrap.percentile_interval(cost_boot, level, 1),
        c_n.sum(axis=0),
    )
    p = keys.index(primary.key) if primary.key in keys else None
    prim = cells.mean[..., p] if p is not None else c_mean
    prim_boot = cells.boot[..., p] if p is not None else c_boot  # (B, R, reps)
    cols["mean_rank"] = stats.mean_rank(prim, primary.higher_is_better)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rank_reps = np.nanmean(stats.average_ranks(np.moveaxis(prim_boot, 2, 0), primary.higher_is_better), axis=1)
    cols["mean_rank_lo"], cols["mean_rank_hi"] = bootstrap.percentile_interval(rank_reps, level, axis=0)
    cols["mean_rank_n"] = np.isfinite(prim).sum(axis=0)
    frame = pd.DataFrame(cols)
    _iqm_and_poi(frame, cells, regs, len(benches), primary, level)
    frame["seeds"] = status[..., 0].min(axis=0)
    frame["seeds_max"] = int(status[..., 0].max()) if status.size else 0
    frame["failed"], frame["diverged"], frame["collapsed"] = (status[..., i].sum(axis=0) for i in range(1, 4))
    return frame


def _iqm_and_poi(frame: pd.DataFrame, cells: CellArrays, regs, nb: int, primary: Column, level: float) -> None:
    """iqm and poi_vs_erm columns (+ _lo, _hi, _n) of the suite frame, in place.

    IQM: of all benchmark x seed primary scores, with the stratified bootstrap's percentile
    interval. P(>erm): per benchmark over seed pairs, averaged, with the Mann-Whitney score
    interval (``stats.probability_of_improvement_ci``); erm against itself is no comparison.
    """
    sign = 1.0 if primary.higher_is_better else -1.0
    out = {name: np.full((len(regs), 4), np.nan) for name in ("iqm", "poi_vs_erm")}  # mean, lo, hi, n
    for name in out:
        out[name][:, 3] = 0
    erm = regs.index(BASELINE) if BASELINE in regs else None
    for r in range(len(regs)):
        if cells.pooled[r] is not None:
            pooled, counts = cells.pooled[r]
            lo, hi = bootstrap.percentile_interval(bootstrap.iqm_from_counts(pooled, counts), level)
            out["iqm"][r] = [stats.iqm(pooled), lo, hi, pooled.size]
        if erm is None or r == erm:
            continue
        pairs = [(cells.scores.get((b, r)), cells.scores.get((b, erm))) for b in range(nb)]
        pairs = [(x, y) for x, y in pairs if x is not None and y is not None and x.size and y.size]
        if pairs:
            est = stats.probability_of_improvement_ci([sign * x for x, _ in pairs], [sign * y for _, y in pairs], level)
            out["poi_vs_erm"][r] = [est.mean, est.lo, est.hi, est.n]
    for name, arr in out.items():  # whole columns at once: a .loc write per row costs ~10 ms
        frame[name], frame[name + "_lo"], frame[name + "_hi"] = arr[:, 0], arr[:, 1], arr[:, 2]
        frame[name + "_n"] = arr[:, 3].astype(np.int64)
