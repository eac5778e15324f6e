"""Seed-batched training (`regbench run --batch-seeds`) against the same runs trained one by one.

Without dropout the two are the same computation up to float rounding (same initialization,
same data order and augmentation draws per seed, elementwise optimizers, each hook called on
its seed's own slice), so their records must agree seed by seed.
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


# erm and early stopping (per-seed stopping and restore); and one of each per-step hook kind:
# a weight penalty (l2), a target transform (label_smoothing), per-seed random draws (mixup),
# a gradient hook (grad_clip, clipping at a norm the gradients really exceed), parameter
# groups with decoupled decay (weight_decay)
@pytest.mark.parametrize(
    "regularizer",
    [
        "erm",
        "early_stopping",
        {"name": "l2", "params": {"lam": 0.01}},
        "label_smoothing",
        "mixup",
        {"name": "grad_clip", "params": {"max_norm": 0.05}},
        "weight_decay",
    ],
)
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
    name = regularizer if isinstance(regularizer, str) else regularizer["name"]
    assert "trains its seeds separately" not in capsys.readouterr().err, name
    # the seeds really differ from one another (each has its own init and data order)
    assert (
        len(
            {round(v[1]["test_id/accuracy"], 6) for v in a.values()}
            | {round(v[2]["val_loss"][-1], 6) for v in a.values()}
        )
        > 1
    )


def test_unbatchable_stack_falls_back_to_separate_runs_and_says_so_once(write_suite, tmp_path, isolated_cache, capsys):
    # BatchNorm keeps running statistics per model (buffers): its seeds train separately
    suite = tiny_suite(seeds=[0, 1, 2], regularizers=["batchnorm", "erm"])
    path = write_suite(suite)
    store = tmp_path / "s.sqlite"
    assert main(["run", str(path), "--store", str(store), "--workers", "1", "--batch-seeds", "--no-progress"]) == 0
    err = capsys.readouterr().err
    recs = records(store)
    assert len(recs) == 6 and all(s == "ok" for s, _, _, _ in recs.values())
    assert sum("seed_batch" in t for _, _, _, t in recs.values()) == 3  # erm's three seeds, batched
    assert err.count("× batchnorm trains its seeds separately: the model keeps buffers") == 1, err
    assert "× erm" not in err


def test_batch_blocker_names_why_a_stack_cannot_be_batched():
    import torch
    from torch import nn

    from regbench import Regularizer
    from regbench.data.base import DatasetInfo, Examples, TrainingData
    from regbench.regularizers.stack import Stack
    from regbench.train.seed_batch import batch_blocker

    class Opaque(Regularizer):
        batchable = False

    class InputGrad(Regularizer):
        needs_input_grad = True

    class Resets(Regularizer):
        def resets_optimizer(self):
            return False

    info = DatasetInfo(name="d", num_classes=2, input_shape=(3,), flip_invariant=False)
    ex = Examples(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    data = TrainingData(ex, ex, info)
    mlp = nn.Linear(3, 2)
    assert batch_blocker(mlp, data, Stack([])) is None
    assert batch_blocker(mlp, data, Stack([Opaque()])) == "regularizer 'Opaque' declares batchable = False"
    assert batch_blocker(mlp, data, Stack([InputGrad()])) == "the stack differentiates with respect to the input"
    assert batch_blocker(mlp, data, Stack([Resets()])) == "the stack resets the optimizer during training"
    bn = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    assert batch_blocker(bn, data, Stack([])) == "the model keeps buffers (BatchNorm statistics are per model)"


def test_seed_groups_train_in_parallel_worker_processes_with_the_same_numbers(
    write_suite, tmp_path, isolated_cache, capsys
):
    # two groups on two workers: each group is one worker's job, and its records are the
    # ones the driver process alone would have written
    suite = tiny_suite(seeds=[0, 1], regularizers=["erm", "l2"], train={"epochs": 2, "batch_size": 128, "lr": 0.003})
    path = write_suite(suite)
    one, two = tmp_path / "one.sqlite", tmp_path / "two.sqlite"
    for store, workers in ((one, "1"), (two, "2")):
        args = ["run", str(path), "--store", str(store), "--workers", workers, "--batch-seeds", "--no-progress"]
        assert main(args) == 0
    a, b = records(one), records(two)
    assert set(a) == set(b) and len(a) == 4
    for key in a:
        assert b[key][0] == "ok" and b[key][3]["seed_batch"] == 2
        for name, value in a[key][1].items():
            if name not in TIMING:
                assert b[key][1][name] == pytest.approx(value, rel=1e-6, abs=1e-7), (key, name)
