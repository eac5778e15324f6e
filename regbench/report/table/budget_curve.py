"""A budget curve's cells: accuracy against training epochs, and each row's paired difference to erm.

The runs are those of a suite's ``budget_curve`` (``harness.budget_curve``): the same rows
trained for several epoch counts. Per benchmark, epoch count and regularizer this gives the
mean ID and OOD accuracy over seeds with its Student-t interval (widened by the test split's
binomial error, as the leaderboard's cells are), and against erm at the same benchmark and
budget the paired difference over seeds (``stats.paired_difference``: a paired Student-t
interval and p-value; pairing cancels the shared test split). The suite-level row
("all benchmarks") averages each seed's numbers over the benchmarks first, then takes the same
statistics over seeds.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from regbench.report import stats
from regbench.report.table.columns import BASELINE, SE_PREFIX

METRICS = ("ood_accuracy", "id_accuracy")
ALL_BENCHMARKS = "all benchmarks"
COLUMNS = [
    "benchmark",
    "epochs",
    "regularizer",
    "metric",
    "seeds",
    "mean",
    "lo",
    "hi",
    "diff",
    "diff_lo",
    "diff_hi",
    "p",
]


def budget_cells(
    table: pd.DataFrame, budgets: Mapping[str, tuple[str, int]], level: float = stats.DEFAULT_LEVEL
) -> pd.DataFrame:
    """One row per (benchmark, epochs, regularizer, metric) of :data:`COLUMNS`.

    table: ``run_table`` of the budget suite's runs (one row per run, accuracies as fractions);
    budgets: each of its benchmark names → (the suite's benchmark, epochs). Only ok runs count.
    ``diff`` … ``p``: the row minus erm over the seeds both ran ok (NaN for erm itself, or where
    erm has no run). Bounds are clipped to the range of an accuracy (0–1) and of a difference (±1). Rows are sorted by benchmark (the suite's order, then ``ALL_BENCHMARKS``),
    epochs, regularizer and metric.
    """
    ok = table[(table["status"] == "ok") & table["benchmark"].isin(list(budgets))].copy()
    if ok.empty:
        return pd.DataFrame(columns=COLUMNS)
    ok["epochs"] = [budgets[b][1] for b in ok["benchmark"]]
    ok["benchmark"] = [budgets[b][0] for b in ok["benchmark"]]
    order = list(dict.fromkeys(b for b, _ in budgets.values()))
    rows = []
    for metric in METRICS:
        wide = ok.pivot_table(index=["epochs", "regularizer", "seed"], columns="benchmark", values=metric)
        se = ok.pivot_table(index=["epochs", "regularizer", "seed"], columns="benchmark", values=SE_PREFIX + metric)
        for bench in [b for b in order if b in wide.columns]:
            rows += _cells(wide[bench], se[bench] ** 2, bench, metric, level)
        if len(wide.columns) > 1:
            # a seed counts at suite level only where it ran on every benchmark; benchmarks are
            # independent trainings on disjoint images, so their binomial variances add (÷ B²)
            complete = wide.notna().all(axis=1)
            mean = wide[complete].mean(axis=1)
            var = (se[complete] ** 2).sum(axis=1) / len(wide.columns) ** 2
            rows += _cells(mean, var, ALL_BENCHMARKS, metric, level)
    out = pd.DataFrame(rows, columns=COLUMNS)
    rank = {b: i for i, b in enumerate([*order, ALL_BENCHMARKS])}
    return out.sort_values(
        ["benchmark", "epochs", "regularizer", "metric"], key=lambda c: c.map(rank) if c.name == "benchmark" else c
    ).reset_index(drop=True)


def _cells(values: pd.Series, sampling_var: pd.Series, bench: str, metric: str, level: float) -> list[dict]:
    """The cells of one benchmark and metric: values and their binomial variances indexed by
    (epochs, regularizer, seed)."""
    rows = []
    for (epochs, reg), x in values.dropna().groupby(level=["epochs", "regularizer"]):
        seeds = x.droplevel(["epochs", "regularizer"])
        var = sampling_var.loc[(epochs, reg)].reindex(seeds.index).fillna(0.0)
        # every seed is scored on the same test images: their binomial error does not shrink
        # with the seeds, so it is added whole (as the leaderboard's cells add it)
        cell = stats.mean_interval(seeds.to_numpy(), float(var.mean()), level=level)
        diff = lo = hi = p = np.nan
        if reg != BASELINE and (epochs, BASELINE) in values.index.droplevel("seed"):
            base = values.loc[(epochs, BASELINE)].dropna()
            shared = seeds.index.intersection(base.index)
            if len(shared):
                est = stats.paired_difference(seeds[shared].to_numpy(), base[shared].to_numpy(), level=level)
                diff, lo, hi, p = est.mean, est.lo, est.hi, est.p_value
        # clipped to the accuracy's range, as the leaderboard's cells are (it cannot lower coverage)
        rows.append(
            [bench, int(epochs), reg, metric, int(cell.n), cell.mean, *np.clip([cell.lo, cell.hi], 0.0, 1.0)]
            + [diff, *np.clip([lo, hi], -1.0, 1.0), p]
        )
    return rows
