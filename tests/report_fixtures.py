"""Synthetic run records in the store's frame schema, for report tests and benchmarks.

``make_frames`` returns (runs, metrics, reliability, suite) exactly as the SQLite store hands
them to ``regbench.report.build_leaderboard``; everything is vectorized so that 100,000 runs
take about a second, and deterministic given ``seed``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

# (shift family, OOD splits as (split name, shift, severity)); two splits per benchmark keep
# the record at ~10 metric rows per run, like a small real suite.
FAMILY_SPLITS = {
    "covariate": [("ood/gaussian_noise-1", "gaussian_noise", 1.0), ("ood/gaussian_noise-5", "gaussian_noise", 5.0)],
    "label": [("ood/dirichlet-0.1", "dirichlet", None), ("ood/dirichlet-1.0", "dirichlet", None)],
    "spurious": [("ood/anti-correlated", "color", None), ("ood/random-color", "color", None)],
    "compositional": [("ood/holdout", "holdout", None), ("ood/extrapolate", "extrapolate", None)],
}
KINDS = ["penalty", "optimizer", "augmentation", "loss", "architecture", "stopping", "gradient", "recipe"]
KNOWN_KINDS = {
    "erm": "none",
    "mixup": "augmentation",
    "cutmix": "augmentation",
    "weight_decay": "optimizer",
    "dropout": "architecture",
    "label_smoothing": "loss",
    "l2": "penalty",
    "weight_decay+mixup": "recipe",
}
N_BINS = 15


def default_regularizers(n: int) -> list[str]:
    """'erm' plus n - 1 names."""
    named = ["mixup", "weight_decay", "dropout", "label_smoothing", "cutmix", "l2", "weight_decay+mixup"]
    return ["erm"] + (named + [f"reg{i:02d}" for i in range(n)])[: n - 1]


ERRORS = {"failed": "RuntimeError: boom", "diverged": "loss is NaN", "collapsed": "collapsed: predicts class 0"}


def make_frames(
    n_benchmarks: int = 4,
    regularizers: list[str] | None = None,
    seeds: int = 3,
    statuses: dict[tuple[str, str, int], str] | None = None,
    with_mia: bool = True,
    with_reliability: bool = True,
    seed: int = 0,
    with_cpu_time: bool = True,
):
    """Synthetic (runs, metrics, reliability, suite) frames.

    statuses: {(benchmark, regularizer, seed): "failed" | "diverged" | "collapsed"} for runs that
    are not ok; they get an error text, and no split metrics unless collapsed (a collapsed run
    keeps every metric, as the harness records it). with_cpu_time=False gives
    records like those made before CPU time was recorded (wall time only).
    """
    rng = np.random.default_rng(seed)
    regs = regularizers or default_regularizers(5)
    families = list(FAMILY_SPLITS)
    benches = [(f"bench{b:02d}-{families[b % 4]}", families[b % 4]) for b in range(n_benchmarks)]
    nb, nr, ns = len(benches), len(regs), seeds
    b_idx, r_idx, s_idx = (a.ravel() for a in np.meshgrid(np.arange(nb), np.arange(nr), np.arange(ns), indexing="ij"))
    bench_names = np.array([b for b, _ in benches], dtype=object)[b_idx]
    reg_names = np.array(regs, dtype=object)[r_idx]
    keys = np.char.add(
        np.char.add(bench_names.astype(str), "|"),
        np.char.add(np.char.add(reg_names.astype(str), "|"), s_idx.astype(str)),
    )
    status = np.full(keys.size, "ok", dtype=object)
    for (b, r, s), st in (statuses or {}).items():
        status[(bench_names == b) & (reg_names == r) & (s_idx == s)] = st
    kinds = np.array([KNOWN_KINDS.get(r, KINDS[i % len(KINDS)]) for i, r in enumerate(regs)], dtype=object)
    runs = pd.DataFrame(
        {
            "run_key": keys.astype(object),
            "suite": "synthetic",
            "benchmark": bench_names,
            "regularizer": reg_names,
            "regularizer_kind": kinds[r_idx],
            "params": np.array([json.dumps({"strength": i / 10}) for i in range(nr)], dtype=object)[r_idx],
            "seed": s_idx.astype(np.int64),
            "status": status,
            "error": [ERRORS.get(s) for s in status],
            "submission": np.zeros(keys.size, dtype=bool),
        }
    )
    scored = (status == "ok") | (status == "collapsed")  # the runs with metric rows
    # Each regularizer shifts ID and OOD accuracy a little; seeds add noise (fractions, not %).
    id_eff, ood_eff = rng.normal(0, 0.01, nr), rng.normal(0, 0.03, nr)
    id_acc = np.clip(0.93 + id_eff[r_idx] + rng.normal(0, 0.005, keys.size), 0.01, 0.99)
    ece_id = np.abs(rng.normal(0.03, 0.01, keys.size))
    blocks = []

    def rows(mask, split, family, shift, severity, metric, value, n):
        blocks.append(
            pd.DataFrame(
                {
                    "run_key": keys[mask].astype(object),
                    "split": split,
                    "family": family,
                    "shift": shift,
                    "severity": severity,
                    "metric": metric,
                    "value": np.asarray(value, dtype=np.float64)[mask],
                    "n": n,
                }
            )
        )

    rows(scored, "test_id", "id", None, np.nan, "accuracy", id_acc, 500)
    rows(scored, "test_id", "id", None, np.nan, "ece", ece_id, 500)
    fam_of_run = np.array([f for _, f in benches], dtype=object)[b_idx]
    for fam, splits in FAMILY_SPLITS.items():
        m = scored & (fam_of_run == fam)
        for j, (split, shift, sev) in enumerate(splits):
            drop = 0.1 + 0.1 * j + 0.05 * families.index(fam)
            ood_acc = np.clip(id_acc - drop + ood_eff[r_idx] + rng.normal(0, 0.01, keys.size), 0.01, 0.99)
            sev_v = np.nan if sev is None else sev
            rows(m, split, fam, shift, sev_v, "accuracy", ood_acc, 400)
            rows(m, split, fam, shift, sev_v, "ece", ece_id + 0.02 * (j + 1), 400)
    train_acc = np.clip(id_acc + 0.04 + rng.normal(0, 0.003, keys.size), 0, 1)
    rows(scored, "run", None, None, np.nan, "generalization_gap", train_acc - id_acc, None)
    secs = 10.0 * (1 + 0.2 * r_idx) * rng.lognormal(0, 0.05, keys.size)
    rows(scored | (status == "diverged"), "run", None, None, np.nan, "train_seconds", secs, None)
    if with_cpu_time:  # CPU time: the wall time's work without the machine's other load
        cpu = 1.8 * 10.0 * (1 + 0.2 * r_idx) * rng.lognormal(0, 0.01, keys.size)
        rows(scored | (status == "diverged"), "run", None, None, np.nan, "train_cpu_seconds", cpu, None)
    if with_mia:
        rows(scored, "run", None, None, np.nan, "mia_auc", 0.5 + np.abs(rng.normal(0.03, 0.01, keys.size)), None)
    metrics = pd.concat(blocks, ignore_index=True)
    metrics["n"] = metrics["n"].astype("Int64")
    reliability = _reliability(keys[scored], rng) if with_reliability else _reliability(keys[:0], rng)
    suite = {
        "name": "synthetic",
        "description": "Synthetic records for <report> tests & benchmarks",
        "seeds": list(range(ns)),
        "primary_metric": "ood_accuracy",
        "selection": "val_accuracy",
        "benchmarks": [{"name": b, "dataset": "digits", "model": "cnn", "shift_kind": f} for b, f in benches],
        "regularizers": list(regs),
        "train": {"epochs": 20, "batch_size": 128, "optimizer": "adam", "lr": 1e-3},
    }
    return runs, metrics, reliability, suite


def _reliability(keys: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """15-bin reliability rows for test_id and one OOD split of every given run."""
    splits = np.array(["test_id", "ood/any"], dtype=object)
    k, s, b = (a.ravel() for a in np.meshgrid(np.arange(keys.size), np.arange(2), np.arange(N_BINS), indexing="ij"))
    conf = (b + 0.5) / N_BINS
    acc = np.clip(conf - 0.05 * s + rng.normal(0, 0.02, conf.size), 0, 1)
    return pd.DataFrame(
        {
            "run_key": keys[k].astype(object),
            "split": splits[s],
            "bin": b.astype(np.int64),
            "confidence": conf,
            "accuracy": acc,
            "count": rng.integers(0, 50, conf.size).astype(np.int64),
        }
    )
