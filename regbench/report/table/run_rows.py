"""Run records -> one row per run with its derived numbers (``run_table``), columnar.

The tidy metric rows (~10 per run, a million for 100k runs) are reduced with integer codes
and ``np.bincount`` instead of pandas groupby/unstack: factorize the text columns once, then
every per-run mean is one weighted count over the rows that qualify.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regbench.report import stats
from regbench.report.table.columns import FAMILY_PREFIX, METRIC_COLUMNS, RUN_COLUMNS, SE_PREFIX, STATUSES

IDENTITY = ["run_key", "benchmark", "regularizer", "regularizer_kind", "seed", "status", "submission", "params"]
# (run-table column, split class, metric): the mean over that split class's rows of the run
SIMPLE = [
    ("id_accuracy", "id", "accuracy"),
    ("ood_accuracy", "ood", "accuracy"),
    ("worst_group_accuracy", "ood", "worst_group_accuracy"),
    ("ece_id", "id", "ece"),
    ("ece_ood", "ood", "ece"),
    ("gen_gap", "run", "generalization_gap"),
    ("mia_auc", "run", "mia_auc"),
    ("train_seconds", "run", "train_seconds"),
    ("train_cpu_seconds", "run", "train_cpu_seconds"),
]


def require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks columns {missing}; expected {columns}")


class _Rows:
    """The metric rows of ok runs, coded: run (row of the table), split class, metric, value."""

    def __init__(self, table: pd.DataFrame, metrics: pd.DataFrame):
        self.n_runs = len(table)
        run = table.index.get_indexer(metrics["run_key"])
        ok = table["status"].to_numpy() == "ok"
        keep = run >= 0
        keep[keep] = ok[run[keep]]  # failed/diverged runs are counted, not averaged
        m = metrics[keep]
        run = run[keep]
        split_code, split_names = pd.factorize(m["split"], sort=True)
        metric_code, metric_names = pd.factorize(m["metric"], sort=True)
        # float sums depend on order: fix it (run, split, metric, as the records' sorted order)
        # so the same records in any order give the same bytes
        order = np.lexsort((metric_code, split_code, run))
        self.run, self.split, self.metric = run[order], split_code[order], metric_code[order]
        self.value = m["value"].to_numpy(np.float64)[order]
        self.n = pd.to_numeric(m["n"], errors="coerce").to_numpy(np.float64)[order]
        family_code, family_names = pd.factorize(m["family"], sort=True)  # no family: -1
        self.family, self.family_names = family_code[order], [str(f) for f in family_names]
        names = np.asarray(split_names, dtype=object).astype(str)
        klass = np.select([names == "test_id", np.char.startswith(names, "ood/"), names == "run"], [0, 1, 2], -1)
        self.klass = np.append(klass, -1)[self.split]  # a missing split (code -1) is no class
        self.metric_id = {name: i for i, name in enumerate(metric_names)}

    def mask(self, klass: str, metric: str) -> np.ndarray | None:
        code = self.metric_id.get(metric)
        if code is None:
            return None
        return (self.klass == {"id": 0, "ood": 1, "run": 2}[klass]) & (self.metric == code)

    def mean(self, mask: np.ndarray | None, values: np.ndarray | None = None) -> np.ndarray:
        """Per run: the mean of ``values`` (default: the metric values) over rows in ``mask``;
        NaN values are skipped, NaN where a run has none (pandas' mean)."""
        if mask is None:
            return np.full(self.n_runs, np.nan)
        v = (self.value if values is None else values)[mask]
        fin = ~np.isnan(v)
        r = self.run[mask][fin]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(r, v[fin], self.n_runs) / np.bincount(r, minlength=self.n_runs)

    def by_family(self, mask: np.ndarray | None, values: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """{family: per-run mean} over the rows in ``mask`` that name a family, families sorted."""
        if mask is None:
            return {}
        present = np.unique(self.family[mask & (self.family >= 0)])
        out = {self.family_names[j]: self.mean(mask & (self.family == j), values) for j in present}
        return dict(sorted(out.items()))


def run_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per run: identity, status, and the per-run numbers of ``RUN_KEYS`` + families.

    runs: one row per run (``RUN_COLUMNS``); metrics: tidy rows (``METRIC_COLUMNS``). Means
    are taken over ok runs' rows only; a number a run did not record is NaN.
    """
    require(runs, RUN_COLUMNS, "runs")
    require(metrics, METRIC_COLUMNS, "metrics")
    bad = sorted(set(runs["status"].unique()) - set(STATUSES))
    if bad:
        raise ValueError(f"unknown run status {bad}; expected one of {list(STATUSES)}")
    if runs["run_key"].duplicated().any():
        raise ValueError(f"duplicate run_key in runs: {runs['run_key'][runs['run_key'].duplicated()].iloc[0]!r}")
    table = runs[IDENTITY].set_index("run_key")
    table = table.iloc[np.argsort(table.index.to_numpy(object).astype(str), kind="stable")]
    rows = _Rows(table, metrics)
    cols = {key: rows.mean(rows.mask(klass, metric)) for key, klass, metric in SIMPLE}
    if "train_accuracy" in rows.metric_id:  # older records carry train accuracy but no gap
        fallback = rows.mean(rows.mask("run", "train_accuracy")) - cols["id_accuracy"]
        cols["gen_gap"] = np.where(np.isnan(cols["gen_gap"]), fallback, cols["gen_gap"])
    cols["ood_drop"] = cols["id_accuracy"] - cols["ood_accuracy"]
    cols["cost_seconds"] = np.where(
        np.isnan(cols["train_cpu_seconds"]), cols["train_seconds"], cols["train_cpu_seconds"]
    )
    ood_acc = rows.mask("ood", "accuracy")
    for family, mean in rows.by_family(ood_acc).items():
        cols[FAMILY_PREFIX + family] = mean
    cols.update(_sampling_errors(rows))
    table = pd.concat([table, pd.DataFrame(cols, index=table.index)], axis=1)
    return table.sort_values(["benchmark", "regularizer", "seed", "run_key"], kind="stable").reset_index()


def _sampling_errors(rows: _Rows) -> dict[str, np.ndarray]:
    """Binomial standard error sqrt(p(1 - p) / N) of each run's accuracy numbers.

    A mean over OOD splits gets the mean of its splits' errors: the splits may be the same
    images transformed, so their errors are treated as perfectly correlated (an upper bound).
    ID - OOD adds both. Records without a split size leave the error NaN, which counts as 0
    (seed spread only).
    """
    acc = rows.mask("id", "accuracy"), rows.mask("ood", "accuracy")
    se = np.full(rows.value.shape, np.nan)
    if acc[0] is not None:  # accuracies only: other metrics are not proportions
        is_acc = acc[0] | acc[1]
        se[is_acc] = np.sqrt(stats.binomial_variance(rows.value[is_acc], rows.n[is_acc]))
    se_id = rows.mean(acc[0], se)
    ood = acc[1]
    se_ood = rows.mean(ood, se)
    out = {
        SE_PREFIX + "id_accuracy": se_id,
        SE_PREFIX + "ood_accuracy": se_ood,
        SE_PREFIX + "ood_drop": se_id + se_ood,
        SE_PREFIX + "gen_gap": se_id,
        SE_PREFIX + "effective_robustness": se_ood,
    }
    for family, mean in rows.by_family(ood, se).items():
        out[SE_PREFIX + FAMILY_PREFIX + family] = mean
    return out


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
