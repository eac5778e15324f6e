"""Seed-batched training (`regbench run --batch-seeds`) against the same runs trained one by one.

Without dropout the two are the same computation up to float rounding (same initialization,
same data order per seed, elementwise optimizers), so their records must agree seed by seed.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import tiny_suite

from regbench.cli import main


def records(store_path):
    """run_key → (status, {split/metric: value}, curves, timings) of every run in a store."""
    with sqlite3.connect(store_path) as db:
        runs = {
            k: (s, json.loads(c), json.loads(t))
            for k, s, c, t in db.execute("SELECT run_key, status, curves, timings FROM runs")
        }
        metrics: dict[str, dict[str, float]] = {}
        for key, split, metric, value in db.execute("SELECT run_key, split, metric, value FROM metrics"):
            metrics.setdefault(key, {})[f"{split}/{metric}"] = value
    return {k: (s, metrics.get(k, {}), c, t) for k, (s, c, t) in runs.items()}


# metrics that measure the machine, not the model
TIMING = (
    "run/train_seconds",
    "run/train_cpu_seconds",
    "run/eval_seconds",
    "run/samples_per_second",
    "run/peak_memory_mb",
)


@pytest.mark.parametrize("regularizer", ["erm", "early_stopping"])
def test_batched_seeds_agree_with_separate_runs_seed_by_seed(
    regularizer, write_suite, tmp_path, isolated_cache, capsys
):
    epochs = 6 if regularizer == "early_stopping" else 3
    suite = tiny_suite(
        seeds=[0, 1, 2], regularizers=[regularizer], train={"epochs": epochs, "batch_size": 128, "lr": 0.003}
    )
    path = write_suite(suite)
    alone, batched = tmp_path / "alone.sqlite", tmp_path / "batched.sqlite"
    assert main(["run", str(path), "--store", str(alone), "--workers", "1", "--no-progress"]) == 0
    assert main(["run", str(path), "--store", str(batched), "--workers", "1", "--batch-seeds", "--no-progress"]) == 0
    a, b = records(alone), records(batched)
    assert set(a) == set(b) and len(a) == 3  # same run keys: batching is not part of what a run is
    for key in a:
        (sa, ma, ca, ta), (sb, mb, cb, tb) = a[key], b[key]
        assert sa == sb == "ok"
        assert tb["seed_batch"] == 3 and "seed_batch" not in ta
        assert set(ma) == set(mb)
        for name in ma:
            if name not in TIMING:
                assert mb[name] == pytest.approx(ma[name], rel=1e-4, abs=1e-5), (key, name)
        for curve in ("train_loss", "val_loss", "val_accuracy"):
            assert cb[curve] == pytest.approx(ca[curve], rel=1e-4, abs=1e-5), (key, curve)
    # the seeds really differ from one another (each has its own init and data order)
    assert (
        len(
            {round(v[1]["test_id/accuracy"], 6) for v in a.values()}
            | {round(v[2]["val_loss"][-1], 6) for v in a.values()}
        )
        > 1
    )


def test_unbatchable_stack_falls_back_to_separate_runs_and_says_so_once(write_suite, tmp_path, isolated_cache, capsys):
    suite = tiny_suite(seeds=[0, 1, 2], regularizers=["label_smoothing", "mixup"])
    path = write_suite(suite)
    store = tmp_path / "s.sqlite"
    assert main(["run", str(path), "--store", str(store), "--workers", "1", "--batch-seeds", "--no-progress"]) == 0
    err = capsys.readouterr().err
    recs = records(store)
    assert len(recs) == 6 and all(s == "ok" and "seed_batch" not in t for s, _, _, t in recs.values())
    for reg in ("label_smoothing", "mixup"):  # one line per group, not per seed
        assert err.count(f"× {reg} trains its seeds separately") == 1, err
