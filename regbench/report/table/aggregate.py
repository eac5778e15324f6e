"""Run records -> per-(benchmark, regularizer) and per-regularizer statistics (``aggregate``).

Intervals (docs/metrics.md, "Intervals"):

- An accuracy cell (ID, OOD = mean over the OOD splits, per-family OOD) with stored per-image
  outcomes gets the two-level (seeds × image clusters) mean and interval of
  ``stats.crossed.cell_mean`` (``table.paired_cells``): the correlation between splits is
  measured from the images' cluster ids.
- Every other cell (and an accuracy cell without per-image outcomes) is a mean over seeds
  with a Student-t interval; for accuracies the binomial variance p(1 - p) / N of the split
  is added (a mean over several OOD splits takes the mean of their binomial errors, the
  perfectly-correlated bound) and the t quantile takes the Welch-Satterthwaite df.
- A suite-level mean over benchmarks combines the cells' variances (divided by B²), with
  Welch-Satterthwaite degrees of freedom.
- P(>erm) gets a score interval for the Mann-Whitney AUC (``stats.probability_of_improvement_ci``).
- IQM, mean rank and cost vs erm keep the stratified bootstrap of rliable
  (``table.cell_estimates``).
- Every interval is clipped to its column's range (``Column.bounds``).
- Rows are sorted by their mean on the primary metric. Tiers and ranks come from every
  paired test between rows (``stats.pairwise.all_pairs``, Holm-adjusted), per benchmark and
  at suite level from the per-benchmark paired differences averaged over benchmarks
  (``table.paired_cells``): ``tier`` is a compact letter display (two rows share a letter
  iff the tests do not separate them), ``rank``..``rank_hi`` the row's rank range.

The pieces live in ``table.columns`` (what each column is), ``table.run_rows`` (one row
per run), ``table.cell_estimates`` (per-cell arrays), ``table.leaderboard_frames`` (the
per-cell and per-regularizer frames) and ``table.not_applicable`` (n/a cells); their public
names are importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from regbench.report import stats
from regbench.report.mechanism import mechanism_table
from regbench.report.table import not_applicable
from regbench.report.table.cell_estimates import cell_arrays
from regbench.report.table.collapsed import collapsed_notes
from regbench.report.table.columns import (  # noqa: F401  (re-exported: the report's one vocabulary)
    BASELINE,
    COLUMNS,
    FAMILY_PREFIX,
    METRIC_COLUMNS,
    MIN_SEEDS,
    RUN_COLUMNS,
    RUN_KEYS,
    SE_PREFIX,
    STATUSES,
    Column,
    display_order,
    family_column,
    resolve_primary,
)
from regbench.report.table.leaderboard_frames import cell_frame, suite_frame
from regbench.report.table.paired_cells import benchmark_tests, crossed_cells, put_tiers, suite_tests
from regbench.report.table.run_rows import effective_robustness, run_table, sampling_variance  # noqa: F401
from regbench.report.table.versus_baseline import versus_baseline


@dataclass
class Leaderboard:
    """Everything the writers need; frames hold ``key``, ``key_lo``, ``key_hi``, ``key_n``."""

    suite: dict
    primary: Column
    columns: list[Column]  # metric columns with at least one number, display order
    main: pd.DataFrame  # one row per regularizer, ranked
    per_benchmark: pd.DataFrame  # one row per (benchmark, regularizer), ranked within benchmark
    runs_table: pd.DataFrame  # one row per run with its derived numbers
    fits: dict  # benchmark -> {"intercept", "slope", "n"} of the probit ID->OOD fit
    level: float
    reps: int
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    caveats: list[str] = field(default_factory=list)  # said above the table, before any number
    mechanisms: pd.DataFrame | None = None  # report.mechanism.mechanism_table: does each regularizer act?
    # benchmark → {"mdd": minimum detectable difference (fraction), "seeds", "per_image"} on the primary
    resolution: dict = field(default_factory=dict)
    # table.versus_baseline: each row's paired difference to erm on the primary metric and ID accuracy
    versus_erm: pd.DataFrame | None = None


def _ordered(values, first=()) -> list:
    """Names in the suite's declared order, then any others sorted (stable output)."""
    present = set(pd.unique(values))
    seen = [v for v in first if v in present]
    return seen + sorted(present - set(seen))


def _one_blas_thread():
    """OpenBLAS' threads make the many small bootstrap products ~30x slower on 2 cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional speed-up, not a requirement
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


def aggregate(
    runs,
    metrics,
    suite: dict,
    reps: int = stats.DEFAULT_REPS,
    level: float = stats.DEFAULT_LEVEL,
    outcomes: dict | None = None,
) -> Leaderboard:
    """Compute every leaderboard number (no files written).

    outcomes: ``Store.outcomes`` of the runs, (run_key, split) → per-image correctness and
    cluster ids; without it the accuracy cells keep the seed + binomial interval and the
    pairs are tested on per-seed numbers.
    """
    outcomes = outcomes or {}
    with _one_blas_thread():
        runs = not_applicable.without_declared(runs, suite)
        lb = _aggregate(runs, metrics, suite, reps, level, outcomes)
        # n/a cells, suite-level columns over the common benchmarks, smallest groups
        return not_applicable.apply(
            lb, runs, metrics, lambda r, m: _aggregate(r, m, suite, reps, level, outcomes), COLUMNS
        )


def _aggregate(runs, metrics, suite: dict, reps: int, level: float, outcomes: dict) -> Leaderboard:
    table = run_table(runs, metrics)
    table["effective_robustness"], fits = effective_robustness(table)
    fam_keys = sorted(c for c in table.columns if c.startswith(FAMILY_PREFIX))
    keys = RUN_KEYS + fam_keys
    benches = _ordered(table["benchmark"], [b["name"] for b in suite.get("benchmarks", [])])
    regs = sorted(table["regularizer"].unique())
    nb, nr = len(benches), len(regs)
    b_all = pd.Index(benches).get_indexer(table["benchmark"])
    r_all = pd.Index(regs).get_indexer(table["regularizer"])
    status = np.zeros((nb, nr, len(STATUSES)), dtype=np.int64)  # ok, failed, diverged, collapsed counts
    s_all = pd.Index(STATUSES).get_indexer(table["status"])
    np.add.at(status, (b_all, r_all, s_all), 1)
    is_ok = (table["status"] == "ok").to_numpy()
    ok = table[is_ok]  # run_table's order: (benchmark, regularizer, seed, run_key), cells contiguous
    columns = [c for c in COLUMNS if not c.suite_only] + [family_column(f[len(FAMILY_PREFIX) :]) for f in fam_keys]
    primary = resolve_primary(suite.get("primary_metric") or "ood_accuracy", columns)
    cells = cell_arrays(
        ok[keys].to_numpy(np.float64),
        np.column_stack([sampling_variance(ok, key) for key in keys]),
        b_all[is_ok],
        r_all[is_ok],
        (nb, nr),
        (benches, regs),
        keys.index(primary.key) if primary.key in keys else None,
        str(suite.get("name", "")),
        reps,
        level,
    )
    crossed_cells(cells, ok, metrics, outcomes, keys, benches, regs, level)
    by_key = {c.key: c for c in COLUMNS + columns}
    per_benchmark = cell_frame(cells, keys, benches, regs, status, primary, by_key, level)
    main = suite_frame(cells, keys, benches, regs, status, primary, by_key, level)
    kind = table.groupby("regularizer")["regularizer_kind"].first()
    sub = table.groupby("regularizer")["submission"].any()
    params = table.sort_values("run_key").groupby("regularizer")["params"].first()
    main["kind"] = main["regularizer"].map(kind)
    main["submission"] = main["regularizer"].map(sub).astype(bool)
    main["params"] = main["regularizer"].map(params)
    higher = primary.higher_is_better
    tests = {b: benchmark_tests(ok, metrics, outcomes, b, primary.key, higher) for b in benches}
    resolution = {
        b: {"mdd": t.mdd, "mdd_5_seeds": t.mdd_5_seeds, "seeds": t.n_seeds, "per_image": t.per_image}
        for b, t in tests.items()
        if t is not None
    }
    paired = {primary.key: tests}
    if primary.key != "id_accuracy" and "id_accuracy" in ok:
        paired["id_accuracy"] = {b: benchmark_tests(ok, metrics, outcomes, b, "id_accuracy", True) for b in benches}
    versus_erm = versus_baseline(paired, level)
    main = _ranked(put_tiers(main, suite_tests(tests, higher)), primary)
    per_benchmark = pd.concat(
        [
            _ranked(put_tiers(g, tests[b]), primary)
            for b, g in per_benchmark.groupby("benchmark", sort=False)  # cell_frame keeps the suite's order
        ]
    ).reset_index(drop=True)
    for frame in (main, per_benchmark):
        frame["short_seeds"] = frame["seeds"] < frame["seeds_max"]
    present = [c for c in columns if np.isfinite(main[c.key]).any() or c.key == primary.key]
    present = display_order(present) + [c for c in COLUMNS if c.suite_only]
    notes = [] if BASELINE in regs else [f"no '{BASELINE}' runs: cost vs erm and P(>erm) are left empty"]
    wall_only = ok["train_cpu_seconds"].isna() & ok["train_seconds"].notna()
    if wall_only.any():
        notes.append(
            f"{int(wall_only.sum())} of {len(ok)} ok runs were recorded without CPU time: their cost uses "
            "wall-clock train seconds, which depend on what else the machine was running"
        )
    notes += collapsed_notes(table)
    mech = mechanism_table(runs, metrics)
    _flag_inactive(per_benchmark, main, mech)
    lb = Leaderboard(
        suite,
        primary,
        present,
        main,
        per_benchmark,
        table,
        fits,
        level,
        reps,
        notes,
        mechanisms=mech,
        resolution=resolution,
        versus_erm=versus_erm,
    )
    if mech["inactive"].eq(True).any():
        notes.append(
            "(inactive): the regularizer's mechanism number shows no effect against erm's on that benchmark "
            "(weight norm, train NLL, restored epoch or clipped steps; mechanisms.md has every number)."
        )
    if suite.get("caveat"):  # the suite's own (e.g. a down-sized model): first, before any number
        lb.caveats.append(str(suite["caveat"]))
    most = int(status[..., 0].max()) if status.size else 0
    if most < MIN_SEEDS:
        lb.caveats.append(
            f"Only {most} seed(s) per cell (fewer than {MIN_SEEDS}): intervals are wide, and rows the paired "
            "tests cannot separate share a tier letter and have overlapping rank ranges, not an order."
        )
    return lb


def _flag_inactive(cells: pd.DataFrame, main: pd.DataFrame, mech: pd.DataFrame) -> None:
    """cells["inactive"] (bool), main["inactive_on"] / main["mechanism_on"] (benchmark counts), in place."""
    flags = {
        (b, r): bool(v) for b, r, v in zip(mech["benchmark"], mech["regularizer"], mech["inactive"]) if pd.notna(v)
    }
    cells["inactive"] = [flags.get((b, r), False) for b, r in zip(cells["benchmark"], cells["regularizer"])]
    judged = pd.Series([r for (_, r) in flags], dtype=object)
    off = pd.Series([r for (b, r), v in flags.items() if v], dtype=object)
    main["inactive_on"] = main["regularizer"].map(off.value_counts()).fillna(0).astype(int)
    main["mechanism_on"] = main["regularizer"].map(judged.value_counts()).fillna(0).astype(int)


def _ranked(frame: pd.DataFrame, primary: Column) -> pd.DataFrame:
    """Rows sorted by their mean on the primary metric, best first (ties and missing by name)."""
    sign = -1.0 if primary.higher_is_better else 1.0
    order = frame.assign(_m=sign * frame[primary.key].to_numpy(np.float64))
    order = order.sort_values(["_m", "regularizer"], kind="stable", na_position="last")
    return order.drop(columns="_m").reset_index(drop=True)


def paired_comparison(
    table: pd.DataFrame, a: str, b: str, metric: str, level: float = stats.DEFAULT_LEVEL
) -> pd.DataFrame:
    """Per benchmark: mean of ``metric``(a) - ``metric``(b) over the seeds both ran ok, with its
    paired Student-t interval (``stats.paired_difference``, the one ``compare`` uses).

    table: ``run_table`` output. Returns columns benchmark, diff, diff_lo, diff_hi, p, n.
    """
    if metric not in table.columns:
        raise ValueError(f"unknown metric '{metric}'; available: {', '.join(RUN_KEYS)}")
    ok = table[table["status"] == "ok"]
    rows = []
    for bench, grp in ok.groupby("benchmark", sort=True):
        x = grp[grp["regularizer"] == a].set_index("seed")[metric]
        y = grp[grp["regularizer"] == b].set_index("seed")[metric]
        both = pd.concat([x, y], axis=1, join="inner").dropna().sort_index()
        if len(both):
            est = stats.paired_difference(both.iloc[:, 0], both.iloc[:, 1], level=level)
            rows.append(
                {
                    "benchmark": bench,
                    "diff": est.mean,
                    "diff_lo": est.lo,
                    "diff_hi": est.hi,
                    "p": est.p_value,
                    "n": est.n,
                }
            )
    if not rows:
        raise ValueError(f"'{a}' and '{b}' share no ok seed on any benchmark")
    return pd.DataFrame(rows)
