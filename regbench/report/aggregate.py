"""Run records -> per-(benchmark, regularizer) and per-regularizer statistics.

Intervals (docs/metrics.md, "Intervals"):

- A cell (benchmark, regularizer) is a mean over seeds and gets a Student-t interval over
  its seeds (df = n - 1). Every seed is scored on the same test split, so the spread of the
  seeds cannot show the split's own sampling error; for accuracies the binomial variance
  p(1 - p) / N of the split is added to the variance of the mean. A mean over several OOD
  splits that may share images takes the mean of their binomial standard errors (the
  perfectly-correlated bound, conservative).
- A suite-level mean over benchmarks combines the cells' variances (divided by B²) with
  Welch-Satterthwaite degrees of freedom for the seed parts.
- Aggregates that are not means (IQM, P(>erm), mean rank, cost ratio) keep the stratified
  bootstrap of rliable: the ok runs of each cell are resampled with their own generator,
  seeded from the suite, benchmark and regularizer names, so a cell's replicates never
  depend on which other cells exist.
- Ranks come in tiers: rows whose interval on the primary metric overlaps the tier
  leader's share its rank and are marked tied (``stats.overlap_tiers``).
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from regbench.report import stats
from regbench.report.mechanism import mechanism_table
from regbench.seeding import derive_seed

RUN_COLUMNS = [
    "run_key",
    "suite",
    "benchmark",
    "regularizer",
    "regularizer_kind",
    "params",
    "seed",
    "status",
    "error",
    "submission",
]
METRIC_COLUMNS = ["run_key", "split", "family", "shift", "severity", "metric", "value", "n"]
STATUSES = ("ok", "failed", "diverged")
BASELINE = "erm"


@dataclass(frozen=True)
class Column:
    """One leaderboard number: how it is named, which way is better and how it is shown."""

    key: str
    label: str
    higher_is_better: bool
    scale: float  # display multiplier: fractions are shown as percent
    digits: int
    help: str
    suite_only: bool = False


# Every leaderboard column, in display order (OOD-family columns are inserted after
# ood_accuracy). This is the one place that says what a column means.
COLUMNS = [
    Column("id_accuracy", "ID acc", True, 100, 1, "accuracy (%) on test_id, the in-distribution test split"),
    Column("ood_accuracy", "OOD acc", True, 100, 1, "accuracy (%) averaged over the benchmark's OOD splits"),
    Column("ood_drop", "OOD drop", False, 100, 1, "ID acc - OOD acc, in points"),
    Column(
        "effective_robustness",
        "Eff. rob.",
        True,
        100,
        1,
        "OOD acc minus the OOD acc predicted from ID acc by a probit-linear fit over all runs of the "
        "benchmark (Miller et al. 2021, arXiv:2107.04649), in points",
    ),
    Column("worst_group_accuracy", "Worst-group", True, 100, 1, "worst-group accuracy (%) averaged over OOD splits"),
    Column("ece_id", "ECE ID", False, 100, 1, "expected calibration error (%, 15 bins) on test_id"),
    Column("ece_ood", "ECE OOD", False, 100, 1, "expected calibration error (%, 15 bins) averaged over OOD splits"),
    Column("gen_gap", "Gen. gap", False, 100, 1, "train accuracy - test_id accuracy, in points"),
    Column("mia_auc", "MIA AUC", False, 1, 3, "membership-inference AUC of a loss-threshold attack (0.5 = no leakage)"),
    Column(
        "cost_vs_erm",
        "Cost vs erm",
        False,
        1,
        2,
        "train CPU seconds (process time, all threads) / erm's on the same benchmark; wall-clock train "
        "seconds only for records made before CPU time was recorded",
    ),
    Column("train_cpu_seconds", "CPU s", False, 1, 1, "train CPU seconds per run (process time of the epochs)"),
    Column("train_seconds", "Wall s", False, 1, 1, "train wall-clock seconds per run (depends on the machine's load)"),
    Column("mean_rank", "Mean rank", False, 1, 2, "mean over benchmarks of the rank by the primary metric", True),
    Column("iqm", "IQM", True, 100, 1, "interquartile mean of the primary metric over benchmark x seed scores", True),
    Column(
        "poi_vs_erm",
        "P(>erm)",
        True,
        1,
        2,
        "probability of improvement over erm: P(X > Y) over seed pairs, averaged over benchmarks",
        True,
    ),
]
FAMILY_PREFIX = "ood_acc_"
SE_PREFIX = "sampling_se:"  # run-table column: binomial standard error of the run's test split(s)
MIN_SEEDS = 5  # fewer seeds than this and the leaderboard warns above its table
RUN_KEYS = [
    "id_accuracy",
    "ood_accuracy",
    "ood_drop",
    "effective_robustness",
    "worst_group_accuracy",
    "ece_id",
    "ece_ood",
    "gen_gap",
    "mia_auc",
    "train_seconds",
    "train_cpu_seconds",
    "cost_seconds",  # what cost_vs_erm divides: CPU seconds, else wall seconds (older records)
]


def family_column(family: str) -> Column:
    return Column(
        FAMILY_PREFIX + family, f"OOD {family}", True, 100, 1, f"accuracy (%) averaged over the {family} OOD splits"
    )


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


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks columns {missing}; expected {columns}")


def run_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per run: identity, status, and the per-run numbers of ``RUN_KEYS`` + families."""
    _require(runs, RUN_COLUMNS, "runs")
    _require(metrics, METRIC_COLUMNS, "metrics")
    bad = sorted(set(runs["status"]) - set(STATUSES))
    if bad:
        raise ValueError(f"unknown run status {bad}; expected one of {list(STATUSES)}")
    if runs["run_key"].duplicated().any():
        raise ValueError(f"duplicate run_key in runs: {runs['run_key'][runs['run_key'].duplicated()].iloc[0]!r}")
    table = runs[["run_key", "benchmark", "regularizer", "regularizer_kind", "seed", "status", "submission", "params"]]
    table = table.set_index("run_key")
    ok_keys = table.index[table["status"] == "ok"]
    m = metrics[metrics["run_key"].isin(ok_keys)]  # failed/diverged runs are counted, not averaged
    # float sums depend on order: fix it so that the same records in any order give the same bytes
    m = m.sort_values(["run_key", "split", "metric"], kind="stable")
    split = m["split"].astype(str)
    ood = m[split.str.startswith("ood/")]

    def wide(frame, by="metric"):
        return frame.groupby(["run_key", by], sort=True)["value"].mean().unstack()

    id_w, ood_w, run_w = wide(m[split == "test_id"]), wide(ood), wide(m[split == "run"])
    cols = {
        "id_accuracy": id_w.get("accuracy"),
        "ood_accuracy": ood_w.get("accuracy"),
        "worst_group_accuracy": ood_w.get("worst_group_accuracy"),
        "ece_id": id_w.get("ece"),
        "ece_ood": ood_w.get("ece"),
        "gen_gap": run_w.get("generalization_gap"),
        "mia_auc": run_w.get("mia_auc"),
        "train_seconds": run_w.get("train_seconds"),
        "train_cpu_seconds": run_w.get("train_cpu_seconds"),
    }
    for key, series in cols.items():
        table[key] = np.nan if series is None else series.reindex(table.index).to_numpy(np.float64)
    if "train_accuracy" in run_w:  # older records carry train accuracy but no gap
        fallback = run_w["train_accuracy"].reindex(table.index) - table["id_accuracy"]
        table["gen_gap"] = table["gen_gap"].fillna(fallback)
    table["ood_drop"] = table["id_accuracy"] - table["ood_accuracy"]
    table["cost_seconds"] = table["train_cpu_seconds"].fillna(table["train_seconds"])
    acc = ood[ood["metric"] == "accuracy"]
    fam = wide(acc[acc["family"].notna()], "family") if len(acc) else pd.DataFrame()
    for family in sorted(fam.columns):
        table[FAMILY_PREFIX + str(family)] = fam[family].reindex(table.index).to_numpy(np.float64)
    _add_sampling_errors(table, m[m["metric"] == "accuracy"])
    return table.sort_values(["benchmark", "regularizer", "seed", "run_key"], kind="stable").reset_index()


def _add_sampling_errors(table: pd.DataFrame, acc: pd.DataFrame) -> None:
    """Binomial standard error sqrt(p(1 - p) / N) of each run's accuracy numbers, in place.

    acc: the accuracy rows of the ok runs (split, family, value, n). A mean over OOD splits
    gets the mean of its splits' errors: the splits may be the same images transformed, so
    their errors are treated as perfectly correlated (an upper bound). ID - OOD adds both.
    Records without a split size leave the error NaN, which counts as 0 (seed spread only).
    """
    acc = acc.assign(
        se=np.sqrt(stats.binomial_variance(acc["value"], pd.to_numeric(acc["n"], errors="coerce").astype("float64")))
    )
    split = acc["split"].astype(str)
    ood = acc[split.str.startswith("ood/")]
    se_id = acc[split == "test_id"].groupby("run_key")["se"].mean().reindex(table.index)
    se_ood = ood.groupby("run_key")["se"].mean().reindex(table.index)
    table[SE_PREFIX + "id_accuracy"] = se_id.to_numpy(np.float64)
    table[SE_PREFIX + "ood_accuracy"] = se_ood.to_numpy(np.float64)
    table[SE_PREFIX + "ood_drop"] = (se_id + se_ood).to_numpy(np.float64)
    table[SE_PREFIX + "gen_gap"] = se_id.to_numpy(np.float64)
    table[SE_PREFIX + "effective_robustness"] = se_ood.to_numpy(np.float64)
    fam = ood[ood["family"].notna()]
    if len(fam):
        by_family = fam.groupby(["run_key", "family"])["se"].mean().unstack()
        for family in by_family.columns:
            table[SE_PREFIX + FAMILY_PREFIX + str(family)] = by_family[family].reindex(table.index).to_numpy(np.float64)


def sampling_variance(table: pd.DataFrame, key: str) -> np.ndarray:
    """Per run (rows of ``table``): the squared binomial error of ``key``; 0 where there is none."""
    col = SE_PREFIX + key
    if col not in table.columns:
        return np.zeros(len(table))
    return np.nan_to_num(table[col].to_numpy(np.float64) ** 2, nan=0.0)


def effective_robustness(table: pd.DataFrame) -> tuple[pd.Series, dict]:
    """Per run: OOD acc minus the probit-linear prediction from ID acc, fitted per benchmark.

    "Accuracy on the line" (Miller et al. 2021, https://arxiv.org/abs/2107.04649): across
    models, probit(OOD acc) is close to linear in probit(ID acc); the residual in accuracy
    space is the run's effective robustness (Taori et al. 2020). Fit over all ok runs.
    """
    from scipy.special import ndtr, ndtri

    eps = 1e-4  # keep probit finite at 0 % and 100 %
    out = pd.Series(np.nan, index=table.index)
    fits = {}
    for bench, grp in table.groupby("benchmark", sort=True):
        ok = grp[np.isfinite(grp["id_accuracy"]) & np.isfinite(grp["ood_accuracy"])]
        x = ndtri(np.clip(ok["id_accuracy"].to_numpy(), eps, 1 - eps))
        y = ndtri(np.clip(ok["ood_accuracy"].to_numpy(), eps, 1 - eps))
        if len(ok) < 2 or np.ptp(x) == 0:
            continue  # a line needs two distinct ID accuracies
        slope, intercept = np.polyfit(x, y, 1)
        fits[bench] = {"intercept": float(intercept), "slope": float(slope), "n": int(len(ok))}
        out.loc[ok.index] = ok["ood_accuracy"].to_numpy() - ndtr(intercept + slope * x)
    return out, fits


def resolve_primary(name: str, available: list[Column]) -> Column:
    by_key = {c.key: c for c in available}
    if name not in by_key:
        close = difflib.get_close_matches(name, list(by_key), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown primary_metric '{name}'.{hint} Available: {', '.join(by_key)}")
    return by_key[name]


def _ordered(values, first=()) -> list:
    """Names in the suite's declared order, then any others sorted (stable output)."""
    present = set(pd.unique(values))
    seen = [v for v in first if v in present]
    return seen + sorted(present - set(seen))


def _interval_frame(point, reps_arr, n, keys, level) -> dict:
    """{key, key_lo, key_hi, key_n} columns from (..., K) points, (..., reps, K) replicates."""
    lo, hi = stats.percentile_interval(reps_arr, level, axis=-2)
    out = {}
    for j, key in enumerate(keys):
        out[key], out[key + "_lo"], out[key + "_hi"], out[key + "_n"] = point[..., j], lo[..., j], hi[..., j], n[..., j]
    return out


def _one_blas_thread():
    """OpenBLAS' threads make the many small bootstrap products ~30x slower on 2 cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional speed-up, not a requirement
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


def aggregate(
    runs, metrics, suite: dict, reps: int = stats.DEFAULT_REPS, level: float = stats.DEFAULT_LEVEL
) -> Leaderboard:
    """Compute every leaderboard number (no files written)."""
    with _one_blas_thread():
        return _aggregate(runs, metrics, suite, reps, level)


def _aggregate(runs, metrics, suite: dict, reps: int, level: float) -> Leaderboard:
    table = run_table(runs, metrics)
    table["effective_robustness"], fits = effective_robustness(table)
    fam_keys = sorted(c for c in table.columns if c.startswith(FAMILY_PREFIX))
    keys = RUN_KEYS + fam_keys
    benches = _ordered(table["benchmark"], [b["name"] for b in suite.get("benchmarks", [])])
    regs = sorted(set(table["regularizer"]))
    nb, nr, k = len(benches), len(regs), len(keys)
    bi = {b: i for i, b in enumerate(benches)}
    ri = {r: i for i, r in enumerate(regs)}
    mean = np.full((nb, nr, k), np.nan)
    count = np.zeros((nb, nr, k), dtype=np.int64)
    boot = np.full((nb, nr, reps, k), np.nan)
    status = np.zeros((nb, nr, 3), dtype=np.int64)  # ok, failed, diverged counts
    for (b, r, st), c in table.groupby(["benchmark", "regularizer", "status"]).size().items():
        status[bi[b], ri[r], STATUSES.index(st)] = c
    ok = table[table["status"] == "ok"].sort_values(["benchmark", "regularizer", "seed", "run_key"], kind="stable")
    values = ok[keys].to_numpy(np.float64)
    sampling = np.column_stack([sampling_variance(ok, key) for key in keys])  # (runs, k)
    t_lo, t_hi = np.full((nb, nr, k), np.nan), np.full((nb, nr, k), np.nan)
    seed_var = np.full((nb, nr, k), np.nan)  # s² / n of each cell: the seeds' part of its variance
    samp_var = np.zeros((nb, nr, k))  # binomial variance of each cell's test split(s)
    resamples = {}  # (benchmark, regularizer) -> (row indices into ok, resample counts (reps, n))
    for (b, r), idx in ok.groupby(["benchmark", "regularizer"], sort=True).indices.items():
        v = values[idx]
        finite = np.isfinite(v)
        count[bi[b], ri[r]] = finite.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # one-seed or empty columns -> NaN, on purpose
            mean[bi[b], ri[r]] = np.where(finite, v, 0).sum(0) / finite.sum(0)
            samp_var[bi[b], ri[r]] = np.where(finite, sampling[idx], 0).sum(0) / np.maximum(finite.sum(0), 1)
            seed_var[bi[b], ri[r]] = np.nanvar(np.where(finite, v, np.nan), axis=0, ddof=1) / finite.sum(0)
        _, t_lo[bi[b], ri[r]], t_hi[bi[b], ri[r]], _ = stats.t_interval(v.T, samp_var[bi[b], ri[r]], level)
        rng = np.random.default_rng(derive_seed("leaderboard", suite.get("name", ""), b, r))
        counts = stats.resample_counts(len(idx), rng, reps)
        boot[bi[b], ri[r]] = stats.bootstrap_means(v, rng, reps, counts=counts)
        resamples[b, r] = (idx, counts)
    # cost relative to erm on the same benchmark, replicate by replicate
    ts = keys.index("cost_seconds")
    keys_c = keys + ["cost_vs_erm"]
    mean = np.concatenate([mean, np.full((nb, nr, 1), np.nan)], axis=2)
    boot = np.concatenate([boot, np.full((nb, nr, reps, 1), np.nan)], axis=3)
    count = np.concatenate([count, count[..., ts : ts + 1]], axis=2)
    if BASELINE in ri:
        e = ri[BASELINE]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[..., -1] = mean[..., ts] / mean[:, e : e + 1, ts]
            boot[..., -1] = boot[..., ts] / boot[:, e : e + 1, :, ts]
    notes = [] if BASELINE in ri else [f"no '{BASELINE}' runs: cost vs erm and P(>erm) are left empty"]
    wall_only = ok["train_cpu_seconds"].isna() & ok["train_seconds"].notna()
    if wall_only.any():
        notes.append(
            f"{int(wall_only.sum())} of {len(ok)} ok runs were recorded without CPU time: their cost uses "
            "wall-clock train seconds, which depend on what else the machine was running"
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # regularizers missing a benchmark -> NaN
        s_mean, s_boot = np.nanmean(mean, axis=0), np.nanmean(boot, axis=0)
    columns = [c for c in COLUMNS if not c.suite_only] + [family_column(f[len(FAMILY_PREFIX) :]) for f in fam_keys]
    primary = resolve_primary(suite.get("primary_metric") or "ood_accuracy", columns)
    p = keys_c.index(primary.key)
    scores = {}  # (b, r) -> finite primary scores and their resample counts (same bootstrap)
    if primary.key in keys:
        for cell, (idx, counts) in resamples.items():
            v = values[idx, p]
            scores[cell] = (v[np.isfinite(v)], counts[:, np.isfinite(v)])

    # per-benchmark frame
    kind = table.groupby("regularizer")["regularizer_kind"].first()
    sub = table.groupby("regularizer")["submission"].any()
    params = table.sort_values("run_key").groupby("regularizer")["params"].first()
    b_grid, r_grid = np.meshgrid(np.arange(nb), np.arange(nr), indexing="ij")
    cells = pd.DataFrame(
        {
            "benchmark": np.array(benches, dtype=object)[b_grid.ravel()],
            "regularizer": np.array(regs, dtype=object)[r_grid.ravel()],
        }
    )
    cols = _interval_frame(
        mean.reshape(nb * nr, -1), boot.reshape(nb * nr, reps, -1), count.reshape(nb * nr, -1), keys_c, level
    )
    for j, key in enumerate(keys):  # means over seeds: Student-t (+ binomial), not the bootstrap
        cols[key + "_lo"], cols[key + "_hi"] = t_lo.reshape(nb * nr, -1)[:, j], t_hi.reshape(nb * nr, -1)[:, j]
    cells = pd.concat([cells, pd.DataFrame(cols)], axis=1)
    cells["seeds"], cells["failed"], cells["diverged"] = (status[..., i].ravel() for i in range(3))
    cells["seeds_max"] = np.repeat(status[..., 0].max(axis=1), nr)
    cells = cells[status.sum(axis=2).ravel() > 0].reset_index(drop=True)  # only cells with runs
    cells["rank"] = cells.groupby("benchmark")[primary.key].rank(method="min", ascending=not primary.higher_is_better)
    cells = cells.sort_values(
        ["benchmark", "rank", "regularizer"],
        key=lambda s: s.map(bi) if s.name == "benchmark" else s,
        kind="stable",
        na_position="last",
    ).reset_index(drop=True)
    cells = pd.concat([_tiered(grp, primary.key) for _, grp in cells.groupby("benchmark", sort=False)])
    cells = cells.reset_index(drop=True)

    # suite frame
    main = pd.DataFrame({"regularizer": regs})
    suite_cols = _interval_frame(s_mean, s_boot, count.sum(axis=0), keys_c, level)
    s_lo, s_hi = _suite_t_interval(mean[..., :k], seed_var, samp_var, count[..., :k], level)
    for j, key in enumerate(keys):
        suite_cols[key + "_lo"], suite_cols[key + "_hi"] = s_lo[:, j], s_hi[:, j]
    main = pd.concat([main, pd.DataFrame(suite_cols)], axis=1)
    prim = mean[..., p]
    main["mean_rank"] = stats.mean_rank(prim, primary.higher_is_better)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rank_reps = np.nanmean(stats.average_ranks(np.moveaxis(boot[..., p], 2, 0), primary.higher_is_better), axis=1)
    main["mean_rank_lo"], main["mean_rank_hi"] = stats.percentile_interval(rank_reps, level, axis=0)
    main["mean_rank_n"] = np.isfinite(prim).sum(axis=0)
    sign = 1.0 if primary.higher_is_better else -1.0
    for name in ("iqm", "poi_vs_erm"):
        for suffix in ("", "_lo", "_hi"):
            main[name + suffix] = np.nan
        main[name + "_n"] = 0
    for r, reg in enumerate(regs):
        cells_r = [scores[b, reg] for b in benches if (b, reg) in scores and scores[b, reg][0].size]
        if cells_r:
            pooled = np.concatenate([v for v, _ in cells_r])
            rep = stats.iqm_from_counts(pooled, np.concatenate([c for _, c in cells_r], axis=1))
            main.loc[r, ["iqm", "iqm_lo", "iqm_hi", "iqm_n"]] = [
                stats.iqm(pooled),
                *stats.percentile_interval(rep, level),
                pooled.size,
            ]
        pairs = [
            (scores[b, reg], scores[b, BASELINE]) for b in benches if (b, reg) in scores and (b, BASELINE) in scores
        ]
        pairs = [(x, y) for x, y in pairs if x[0].size and y[0].size]
        if pairs and reg != BASELINE:  # erm against itself is no comparison: shown as missing
            point = stats.probability_of_improvement([sign * x[0] for x, _ in pairs], [sign * y[0] for _, y in pairs])
            rep = np.mean([stats.poi_from_counts(sign * x[0], sign * y[0], x[1], y[1]) for x, y in pairs], axis=0)
            n = sum(x[0].size for x, _ in pairs)
            main.loc[r, ["poi_vs_erm", "poi_vs_erm_lo", "poi_vs_erm_hi", "poi_vs_erm_n"]] = [
                point,
                *stats.percentile_interval(rep, level),
                n,
            ]
    main["kind"] = main["regularizer"].map(kind)
    main["submission"] = main["regularizer"].map(sub).astype(bool)
    main["params"] = main["regularizer"].map(params)
    main["seeds"] = status[..., 0].min(axis=0)
    main["seeds_max"] = int(status[..., 0].max()) if status.size else 0
    main["failed"], main["diverged"] = status[..., 1].sum(axis=0), status[..., 2].sum(axis=0)
    main["rank"] = main[primary.key].rank(method="min", ascending=not primary.higher_is_better)
    main = main.sort_values(["rank", "regularizer"], kind="stable", na_position="last").reset_index(drop=True)
    main = _tiered(main, primary.key)
    for frame in (main, cells):
        frame["short_seeds"] = frame["seeds"] < frame["seeds_max"]
    present = [c for c in columns if np.isfinite(main[c.key]).any() or c.key == primary.key]
    present = _display_order(present) + [c for c in COLUMNS if c.suite_only]
    mech = mechanism_table(runs, metrics)
    _flag_inactive(cells, main, mech)
    lb = Leaderboard(suite, primary, present, main, cells, table, fits, level, reps, notes, mechanisms=mech)
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
            f"Only {most} seed(s) per cell (fewer than {MIN_SEEDS}): intervals are wide, and rows whose "
            "intervals overlap are tied (rank marked =), not ordered."
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


def _suite_t_interval(mean, seed_var, samp_var, count, level):
    """Interval of each regularizer's mean over benchmarks: (B, R, K) cell arrays -> (R, K) lo, hi.

    Var = sum over benchmarks of (s_b² / n_b + binomial_b) / B²; the t quantile uses the
    Welch-Satterthwaite degrees of freedom of the seed parts (infinite if no seed varied).
    A regularizer with a one-seed cell has no interval (NaN).
    """
    finite = np.isfinite(mean)
    nb = finite.sum(axis=0)
    a = np.where(finite, seed_var, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (a + np.where(finite, samp_var, 0.0)).sum(axis=0) / nb**2
        denom = np.where(finite & (count > 1), a**2 / (count - 1), 0.0).sum(axis=0)
        df = np.where(denom > 0, a.sum(axis=0) ** 2 / denom, np.inf)
        half = stats.t_quantile(df, level) * np.sqrt(var)
    known = (nb > 0) & ~(finite & (count < 2)).any(axis=0)
    centre = np.where(nb > 0, np.where(finite, mean, 0.0).sum(axis=0) / np.maximum(nb, 1), np.nan)
    return np.where(known, centre - half, np.nan), np.where(known, centre + half, np.nan)


def _tiered(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Rows sorted best first -> ``rank`` = the rank of the tier's leader, ``tied`` = tier of > 1.

    The point rank is kept as ``point_rank``. A tier holds the rows whose interval on ``key``
    overlaps its leader's (``stats.overlap_tiers``), so a tie is never shown as a win.
    """
    frame = frame.copy()
    frame["point_rank"] = frame["rank"]
    has = frame[key].notna().to_numpy()
    tiers = stats.overlap_tiers(frame[key + "_lo"].to_numpy(np.float64), frame[key + "_hi"].to_numpy(np.float64))
    tiers = np.where(has, tiers, -1 - np.arange(len(frame)))  # no number: no tier, no rank
    leader_rank = pd.Series(frame["rank"].to_numpy()).groupby(tiers).transform("min").to_numpy()
    size = pd.Series(tiers).map(pd.Series(tiers).value_counts()).to_numpy()
    frame["rank"] = np.where(has, leader_rank, np.nan)
    frame["tied"] = has & (size > 1)
    return frame


def _display_order(cols: list[Column]) -> list[Column]:
    """Family columns right after overall OOD accuracy."""
    fams = [c for c in cols if c.key.startswith(FAMILY_PREFIX)]
    rest = [c for c in cols if not c.key.startswith(FAMILY_PREFIX)]
    at = next((i + 1 for i, c in enumerate(rest) if c.key == "ood_accuracy"), len(rest))
    return rest[:at] + fams + rest[at:]


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
