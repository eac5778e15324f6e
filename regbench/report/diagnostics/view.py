"""Diagnostics tables as pure functions of the store's frames (no torch).

Inputs are the frames of ``Store.frames(suite)`` (runs, metrics) and
``Store.predictions_frame(keys)`` (run_key, split, labels, targets — packed label blobs).
Outputs are tidy pandas frames:

- :func:`bias_variance_table`: Domingos' 0-1 decomposition and churn per
  (benchmark, regularizer, split) across the ok runs (seeds) of that cell;
- :func:`curve_table`: per run, what its learning curves say and its diagnosis
  (``underfit`` / ``overfit`` / ``ok``) against the best run on the same data;
- :func:`diagnostics_columns`: per (benchmark, regularizer) the leaderboard columns — bias,
  variance, churn on ID and (mean over) OOD splits, MIA AUC, diagnosis counts.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from regbench.report.diagnostics import Thresholds, decompose, diagnose, summarize, unpack_labels
from regbench.report.diagnostics.curves import DEFAULT_THRESHOLDS, CurveSummary

KEYS = ["benchmark", "regularizer"]
# the per-(benchmark, regularizer) columns of the diagnostics table, in order
DIAGNOSTIC_COLUMNS = (
    "bias_id", "variance_id", "churn_id", "bias_ood", "variance_ood", "churn_ood",
    "mia_auc", "temperature", "n_underfit", "n_overfit", "n_ok",
)  # fmt: skip
# what makes two runs "the same data" for the underfit reference: the data fingerprint's inputs
# and the training-label options (noisy labels lower the achievable train/val accuracy)
REFERENCE_FIELDS = ("dataset", "dataset_args", "shift", "shift_params", "data_seed")
REFERENCE_TRAIN_FIELDS = ("label_noise", "label_noise_kind", "data_resample")


def _spec(text) -> dict:
    if isinstance(text, dict):
        return text
    return json.loads(text) if isinstance(text, str) and text else {}


def natural_key(name: str) -> str:
    """Sort key that orders ``w2`` before ``w16`` (digit runs zero-padded to compare as numbers)."""
    return re.sub(r"\d+", lambda m: m.group().zfill(12), str(name))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by benchmark (natural order), then regularizer, then seed if present."""
    by = [c for c in ("benchmark", "regularizer", "seed") if c in frame]
    return frame.sort_values(
        by, key=lambda col: col.map(natural_key) if col.name == "benchmark" else col, kind="stable"
    ).reset_index(drop=True)


def _ok(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that trained and were evaluated: ok, and collapsed ones too (a collapse is what
    a diagnosis such as "underfit" explains; only the leaderboard leaves them out)."""
    return runs[runs["status"].isin(("ok", "collapsed"))]


def split_family(split: str) -> str:
    """``test_id`` → ``id``; ``ood/…`` → ``ood``; anything else → the split's name."""
    return "id" if split == "test_id" else "ood" if split.startswith("ood/") else split


def bias_variance_table(runs: pd.DataFrame, preds: pd.DataFrame) -> pd.DataFrame:
    """One row per (benchmark, regularizer, split) with ≥ 2 ok runs having predictions and targets.

    Columns: benchmark, regularizer, split, family, runs, n, mean_error, bias, variance,
    unbiased_variance, biased_variance, net_variance, churn.
    """
    cols = [
        *KEYS,
        "split",
        "family",
        "runs",
        "n",
        "mean_error",
        "bias",
        "variance",
        "unbiased_variance",
        "biased_variance",
        "net_variance",
        "churn",
    ]
    ok = _ok(runs)[["run_key", *KEYS, "seed"]]
    p = preds[preds["targets"].notna()].merge(ok, on="run_key")
    rows = []
    for (bench, reg, split), g in p.sort_values("seed").groupby([*KEYS, "split"], sort=True):
        if len(g) < 2:
            continue
        labels = [unpack_labels(b) for b in g["labels"]]
        if len({len(x) for x in labels}) != 1:
            continue  # runs of one cell evaluated on different data: not comparable
        d = decompose(np.stack(labels), unpack_labels(g["targets"].iloc[0]))
        rows.append(
            {"benchmark": bench, "regularizer": reg, "split": split, "family": split_family(split), **d.as_dict()}
        )
    return pd.DataFrame(rows, columns=cols)


def reference_key(spec: dict) -> str:
    """The key of "the same data": dataset, its args, shift, data seed and label-noise options."""
    train = spec.get("train", {})
    key = {f: spec.get(f) for f in REFERENCE_FIELDS} | {f: train.get(f) for f in REFERENCE_TRAIN_FIELDS}
    return json.dumps(key, sort_keys=True)


def curve_table(runs: pd.DataFrame, metrics: pd.DataFrame, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """Per ok run with curves: the curve summary and the diagnosis.

    The delivered epoch is ``restored_epoch`` (early stopping) when recorded, else the last.
    The underfit reference is the best clean train accuracy (the evaluator's, eval mode) and
    the best delivered val accuracy over the runs on the same data (:func:`reference_key`),
    across every model and regularizer of the suite.
    """
    run_rows = metrics[metrics["split"] == "run"]
    restored = run_rows[run_rows["metric"] == "restored_epoch"]
    restored = dict(zip(restored["run_key"], restored["value"]))
    # the evaluator's train accuracy: clean labels, eval mode (no dropout, no augmentation/mixup),
    # at the delivered weights — the fair measure of "can it fit the training data"
    clean = run_rows[run_rows["metric"] == "train_accuracy"]
    clean = dict(zip(clean["run_key"], clean["value"]))
    rows = []
    for r in _ok(runs).itertuples(index=False):
        curves = _spec(r.curves)
        if not curves or not curves.get("val_loss"):
            continue
        s = summarize(curves, int(restored[r.run_key]) if r.run_key in restored else None)
        rows.append(
            {
                "run_key": r.run_key,
                "benchmark": r.benchmark,
                "regularizer": r.regularizer,
                "seed": r.seed,
                "reference": reference_key(_spec(r.spec)),
                **s.as_dict(),
                "clean_train_accuracy": clean.get(r.run_key, s.train_accuracy),
            }
        )
    t = pd.DataFrame(rows)
    if t.empty:
        return t
    best = t.groupby("reference")[["clean_train_accuracy", "val_accuracy"]].transform("max")
    t["best_train_accuracy"], t["best_val_accuracy"] = best["clean_train_accuracy"], best["val_accuracy"]
    t["diagnosis"] = [
        diagnose(
            summarize_row(row), row.best_train_accuracy, row.best_val_accuracy, thresholds, row.clean_train_accuracy
        )
        for row in t.itertuples(index=False)
    ]
    return _sorted(t.drop(columns=["reference"]))


def summarize_row(row):
    """A :class:`CurveSummary` back from a row of :func:`curve_table`."""
    fields = CurveSummary.__dataclass_fields__
    return CurveSummary(**{f: getattr(row, f) for f in fields})


def diagnostics_columns(
    runs: pd.DataFrame, metrics: pd.DataFrame, bv: pd.DataFrame, curves: pd.DataFrame
) -> pd.DataFrame:
    """Per (benchmark, regularizer): bias/variance/churn on ID and mean over OOD splits, mean
    MIA AUC and temperature over seeds, and how many runs were diagnosed underfit/overfit/ok."""
    cells = _sorted(_ok(runs)[KEYS].drop_duplicates())
    out = cells.copy()
    if not bv.empty:
        fam = bv[bv["family"].isin(["id", "ood"])].groupby([*KEYS, "family"])[["bias", "variance", "churn"]].mean()
        wide = fam.unstack("family")
        wide.columns = [f"{m}_{f}" for m, f in wide.columns]
        out = out.merge(wide.reset_index(), on=KEYS, how="left")
    run_metrics = metrics[(metrics["split"] == "run") & metrics["metric"].isin(["mia_auc", "temperature"])]
    if not run_metrics.empty:
        m = run_metrics.merge(_ok(runs)[["run_key", *KEYS]], on="run_key")
        out = out.merge(
            m.pivot_table(index=KEYS, columns="metric", values="value", aggfunc="mean").reset_index(),
            on=KEYS,
            how="left",
        )
    if not curves.empty:
        counts = curves.groupby(KEYS)["diagnosis"].value_counts().unstack(fill_value=0)
        for d in ("underfit", "overfit", "ok"):
            counts[d] = counts.get(d, 0)
        counts = counts[["underfit", "overfit", "ok"]].add_prefix("n_")
        out = out.merge(counts.reset_index(), on=KEYS, how="left")
    for c in DIAGNOSTIC_COLUMNS:
        if c not in out:
            out[c] = np.nan
    return out[[*KEYS, *DIAGNOSTIC_COLUMNS]]


def width_table(runs: pd.DataFrame, metrics: pd.DataFrame, arg: str = "width") -> pd.DataFrame:
    """Test error vs a swept model argument: one row per ok run with ``model_args[arg]``.

    Columns: base (the benchmark name without its ``-{arg}{value}`` suffix), benchmark,
    regularizer, seed, label_noise, <arg>, test_error (1 − test_id accuracy), train_error (1 −
    final train accuracy on the training labels).
    """
    acc = metrics[(metrics["split"] == "test_id") & (metrics["metric"] == "accuracy")]
    acc = dict(zip(acc["run_key"], acc["value"]))
    rows = []
    for r in _ok(runs).itertuples(index=False):
        spec = _spec(r.spec)
        value = (spec.get("model_args") or {}).get(arg)
        if value is None or r.run_key not in acc:
            continue
        curves = _spec(r.curves)
        suffix = f"-{arg}{value}"
        base = r.benchmark.removesuffix(suffix)
        rows.append(
            {
                "base": base,
                "benchmark": r.benchmark,
                "regularizer": r.regularizer,
                "seed": r.seed,
                "label_noise": spec.get("train", {}).get("label_noise", 0.0),
                arg: value,
                "test_error": 1 - acc[r.run_key],
                "train_error": 1 - curves["train_accuracy"][-1] if curves.get("train_accuracy") else np.nan,
            }
        )
    t = pd.DataFrame(rows)
    if t.empty or t.groupby("base")[arg].nunique().max() < 2:
        return pd.DataFrame()
    return t.sort_values(["base", "regularizer", arg, "seed"], kind="stable").reset_index(drop=True)
