"""Leaderboard cells for pairs that cannot run, and worst-group accuracy where groups are too small.

A suite declares the (benchmark, regularizer) pairs that cannot run under the benchmark's
``not_applicable`` (README, Suites); they are never trained. Their per-benchmark cells show
"n/a" with the reason. The suite-level columns (means over benchmarks, mean rank, IQM,
P(>erm), cost vs erm) are computed over the benchmarks on which *every* row runs, and a
caveat names the benchmarks left out: a ranking needs the same benchmarks for every row,
and dropping a row instead would hide the very method (IRM on a suite with one
environment-free benchmark) a reader came to compare. Every number of a left-out
benchmark stays in its own table.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

NA = "n/a"  # the text of a cell that cannot have a number
# evaluate/classify.py's threshold (that module imports torch; tests/test_report_cells.py checks they agree)
MIN_GROUP_SIZE = 20
DEFAULT_REASON = "declared not applicable in the suite"
BASELINE, BASELINE_KIND = "erm", "baseline"  # erm's row shows kind "baseline", also in older records


def declared_pairs(suite: dict) -> dict[tuple[str, str], str]:
    """(benchmark, regularizer label) → reason, from the suite metadata's benchmarks."""
    out = {}
    for b in suite.get("benchmarks", []):
        for label, why in (b.get("not_applicable") or {}).items():
            out[str(b.get("name")), str(label)] = str(why or DEFAULT_REASON)
    return out


def without_declared(runs: pd.DataFrame, suite: dict) -> pd.DataFrame:
    """``runs`` less the runs of declared pairs (recorded before the suite declared them)."""
    pairs = declared_pairs(suite)
    if not pairs:
        return runs
    declared = [(b, r) in pairs for b, r in zip(runs["benchmark"], runs["regularizer"])]
    return runs[~np.array(declared, dtype=bool)].reset_index(drop=True)


def apply(lb, runs: pd.DataFrame, metrics: pd.DataFrame, aggregate: Callable, catalog: list):
    """``lb`` with n/a cells and suite-level columns over the common benchmarks (see module doc),
    the smallest group where worst-group accuracy is missing, and erm's kind as the baseline.

    aggregate(runs, metrics) → Leaderboard: the same aggregation on a subset of the records;
    catalog: every column in display order (aggregate.COLUMNS).
    """
    lb.main["kind"] = [
        BASELINE_KIND if r == BASELINE or k == "none" else k for r, k in zip(lb.main["regularizer"], lb.main["kind"])
    ]
    pairs = declared_pairs(lb.suite)
    regs = set(lb.main["regularizer"])
    pairs = {k: v for k, v in pairs.items() if k[1] in regs}
    per_bench = _smallest_groups(lb, runs, metrics, catalog)
    if not pairs:
        return lb
    left_out = [b for b in _benchmarks(lb) if any((b, r) in pairs for r in regs)]
    kept = [b for b in _benchmarks(lb) if b not in left_out]
    if kept:
        keep = runs["benchmark"].isin(kept)
        sub = aggregate(runs[keep].reset_index(drop=True), metrics[metrics["run_key"].isin(runs["run_key"][keep])])
        main = sub.main.copy()
        for c in lb.columns:  # a family column only on a left-out benchmark: empty at suite level
            for suf in ("", "_lo", "_hi", "_n"):
                if c.key + suf not in main:
                    main[c.key + suf] = np.nan
        main["smallest_group"] = per_bench.reindex(kept).min()
        main["kind"] = main["regularizer"].map(dict(zip(lb.main["regularizer"], lb.main["kind"])))
        main["not_applicable"] = None
        lb.main = main
    else:
        lb.main = lb.main.assign(
            not_applicable="no benchmark on which every row runs", rank=np.nan, rank_hi=np.nan, tier=""
        )
    lb.per_benchmark = _with_na_rows(lb.per_benchmark, pairs, _benchmarks(lb))
    named = "; ".join(f"{r} on {b} ({why})" for (b, r), why in sorted(pairs.items()))
    lb.notes.append(
        f"{NA}: the regularizer cannot run on that benchmark, so it was not trained there (declared under the "
        f"benchmark's not_applicable in the suite file): {named}."
    )
    where = ", ".join(kept) if kept else "none"
    lb.caveats.append(
        f"Suite-level columns (means over benchmarks, mean rank, IQM, P(>erm), cost vs erm) cover only the "
        f"benchmarks on which every row runs: {where}. Left out: {', '.join(left_out)} (a row is {NA} there); "
        "their numbers are in the per-benchmark tables."
    )
    return lb


def _benchmarks(lb) -> list[str]:
    named = [str(b.get("name")) for b in lb.suite.get("benchmarks", [])]
    seen = list(pd.unique(lb.per_benchmark["benchmark"]))
    return [b for b in named if b in seen] + [b for b in seen if b not in named]


def _with_na_rows(cells: pd.DataFrame, pairs: dict, order: list[str]) -> pd.DataFrame:
    """The per-benchmark frame with one unranked row per declared pair, last in its benchmark."""
    cells = cells.assign(not_applicable=None)
    seeds_max = cells.groupby("benchmark")["seeds_max"].max()
    blank = {c: np.nan for c in cells.columns}
    extra = [
        {
            **blank,
            "benchmark": b,
            "regularizer": r,
            "not_applicable": why,
            "seeds": 0,
            "failed": 0,
            "diverged": 0,
            "collapsed": 0,
            "seeds_max": int(seeds_max.get(b, 0)),
            "short_seeds": False,
            "tier": "",
            "inactive": False,
            "smallest_group": cells.loc[cells["benchmark"] == b, "smallest_group"].min(),
        }
        for (b, r), why in sorted(pairs.items())
        if b in order
    ]
    out = pd.concat([cells, pd.DataFrame(extra, columns=cells.columns)], ignore_index=True)
    rank = out["benchmark"].map({b: i for i, b in enumerate(order)})
    return (
        out.assign(_b=rank, _na=out["not_applicable"].notna())
        .sort_values(["_b", "_na"], kind="stable")
        .drop(columns=["_b", "_na"])
        .reset_index(drop=True)
    )


def _smallest_groups(lb, runs: pd.DataFrame, metrics: pd.DataFrame, catalog: list) -> pd.Series:
    """``smallest_group`` (the smallest group over a benchmark's OOD splits, min over its ok runs)
    on every per-benchmark row, and on suite rows the smallest over the benchmarks; keeps the
    worst-group column where it is missing because groups are too small, so that it shows why."""
    ok = runs.loc[runs["status"] == "ok", ["run_key", "benchmark"]]
    sg = metrics[metrics["metric"] == "smallest_group"]  # filter first: the string test is slow on 1M rows
    sg = sg[sg["split"].astype(str).str.startswith("ood/")]
    per_bench = sg.merge(ok, on="run_key").groupby("benchmark")["value"].min()
    lb.per_benchmark["smallest_group"] = lb.per_benchmark["benchmark"].map(per_bench).astype(float)
    lb.main["smallest_group"] = float(per_bench.min()) if len(per_bench) else np.nan
    small = per_bench[per_bench < MIN_GROUP_SIZE]
    if len(small) and not any(c.key == "worst_group_accuracy" for c in lb.columns):
        order = {c.key: i for i, c in enumerate(catalog)}

        def position(c):  # per-family columns sit right after overall OOD accuracy
            return order.get(c.key, order["ood_accuracy"] + 0.5)

        wg = next(c for c in catalog if c.key == "worst_group_accuracy")
        lb.columns = sorted([*lb.columns, wg], key=position)
    reported = lb.per_benchmark.groupby("benchmark")["worst_group_accuracy"].apply(lambda s: s.notna().any())
    if len(small) and reported.any():
        lb.notes.append(
            "Worst-group at suite level averages only the benchmarks where it is reported ("
            + ", ".join(reported.index[reported])
            + "); "
            + ", ".join(f"{b}: {NA} (smallest group {int(n)})" for b, n in small.items())
            + "."
        )
    return per_bench
