"""The vectorized aggregate equals a cell-by-cell reference built from the public stats functions."""

import numpy as np
import pandas as pd
import pytest
from report_fixtures import make_frames

from regbench.report import stats
from regbench.report.stats import bootstrap
from regbench.report.table.aggregate import BASELINE, COLUMNS, aggregate
from regbench.seeding import derive_seed

REPS = 200
STATUSES = {("bench00-covariate", "mixup", 1): "failed", ("bench01-label", "dropout", 0): "diverged"}


@pytest.fixture(scope="module")
def small():
    runs, metrics, _, suite = make_frames(n_benchmarks=3, seeds=4, statuses=STATUSES, seed=3)
    return aggregate(runs, metrics, suite, reps=REPS), suite


def _cells(lb):
    t = lb.runs_table
    return t[t["status"] == "ok"].groupby(["benchmark", "regularizer"], sort=True)


def _reference_boot(suite, bench, reg, v):
    rng = np.random.default_rng(derive_seed("leaderboard", suite["name"], bench, reg))
    counts = bootstrap.resample_counts(len(v), rng, REPS)
    return counts, bootstrap.bootstrap_means(v, rng, REPS, counts=counts)


def test_cell_t_intervals_equal_the_one_cell_function(small):
    lb, _ = small
    cells = lb.per_benchmark.set_index(["benchmark", "regularizer"])
    bounds = {c.key: c for c in COLUMNS}
    checked = 0
    for (bench, reg), grp in _cells(lb):
        for key in ("id_accuracy", "ood_accuracy", "ece_id", "ood_drop"):
            x = grp[key].to_numpy(np.float64)
            se = grp.get("sampling_se:" + key)
            binom = 0.0 if se is None else np.mean(np.nan_to_num(se.to_numpy(np.float64)) ** 2)
            mean, lo, hi, n = stats.t_interval(x, binom)
            lo, hi = bounds[key].clip(lo, hi)
            row = cells.loc[(bench, reg)]
            assert row[key] == pytest.approx(mean, abs=1e-12) and row[key + "_n"] == n
            assert (row[key + "_lo"], row[key + "_hi"]) == pytest.approx((lo, hi), abs=1e-12)
            checked += 1
    assert checked == 3 * 5 * 4  # every cell, the diverged and failed runs left out


def test_bootstrap_columns_equal_a_cell_by_cell_bootstrap(small):
    lb, suite = small
    cost, prim = {}, {}
    for (bench, reg), grp in _cells(lb):
        counts, boot = _reference_boot(suite, bench, reg, grp[["cost_seconds", "ood_accuracy"]].to_numpy(np.float64))
        cost[bench, reg] = (grp["cost_seconds"].mean(), boot[:, 0])
        prim[bench, reg] = (grp["ood_accuracy"].to_numpy(np.float64), counts)
    cells = lb.per_benchmark.set_index(["benchmark", "regularizer"])
    for (bench, reg), (mean, boot) in cost.items():
        erm_mean, erm_boot = cost[bench, BASELINE]
        lo, hi = bootstrap.percentile_interval(boot / erm_boot)
        row = cells.loc[(bench, reg)]
        assert row["cost_vs_erm"] == pytest.approx(mean / erm_mean)
        assert (row["cost_vs_erm_lo"], row["cost_vs_erm_hi"]) == pytest.approx((lo, hi))
    main = lb.main.set_index("regularizer")
    for reg in main.index:
        parts = [prim[b, reg] for b in sorted({b for b, _ in prim}) if (b, reg) in prim]
        scores = np.concatenate([v for v, _ in parts])
        counts = np.concatenate([c for _, c in parts], axis=1).astype(int)
        reps = [stats.iqm(np.repeat(scores, c)) for c in counts]  # the resample itself, no shortcut
        lo, hi = np.percentile(reps, [2.5, 97.5])
        assert main.loc[reg, "iqm"] == pytest.approx(stats.iqm(scores))
        assert (main.loc[reg, "iqm_lo"], main.loc[reg, "iqm_hi"]) == pytest.approx((lo, hi))


def test_poi_uses_the_score_interval_and_skips_erm(small):
    lb, _ = small
    t = lb.runs_table
    ok = t[t["status"] == "ok"]
    main = lb.main.set_index("regularizer")
    for reg in ("mixup", "dropout"):
        xs, ys = [], []
        for bench in sorted(ok["benchmark"].unique()):
            xs.append(ok[(ok.benchmark == bench) & (ok.regularizer == reg)]["ood_accuracy"].to_numpy())
            ys.append(ok[(ok.benchmark == bench) & (ok.regularizer == BASELINE)]["ood_accuracy"].to_numpy())
        est = stats.probability_of_improvement_ci(xs, ys)
        got = main.loc[reg, ["poi_vs_erm", "poi_vs_erm_lo", "poi_vs_erm_hi", "poi_vs_erm_n"]].to_numpy(np.float64)
        assert got == pytest.approx([est.mean, est.lo, est.hi, est.n])
        assert est.lo < est.hi
    assert pd.isna(main.loc[BASELINE, "poi_vs_erm"])


def test_run_order_does_not_change_any_number(small):
    lb, suite = small
    runs, metrics, _, _ = make_frames(n_benchmarks=3, seeds=4, statuses=STATUSES, seed=3)
    shuffled = aggregate(runs.sample(frac=1, random_state=1), metrics.sample(frac=1, random_state=2), suite, reps=REPS)
    pd.testing.assert_frame_equal(shuffled.main, lb.main)
    pd.testing.assert_frame_equal(shuffled.per_benchmark, lb.per_benchmark)


def test_every_interval_stays_in_its_columns_range(small):
    lb, _ = small
    for frame in (lb.main, lb.per_benchmark):
        for col in COLUMNS:
            if col.key + "_lo" in frame:
                lo, hi = frame[col.key + "_lo"].dropna(), frame[col.key + "_hi"].dropna()
                assert (lo >= col.bounds[0]).all() and (hi <= col.bounds[1]).all(), col.key
