"""Each real-data format, fabricated on disk, run through a one-epoch suite via the CLI.

The loaders' own tests (test_real_data.py) check the pixels and splits; here the whole path
— suite YAML → loader → shift → training → evaluation → store — runs on each format, and
WILDS' own evaluator is recorded beside regbench's metrics.
"""

from __future__ import annotations

import sqlite3

import fixtures_real as fx
import pytest
from conftest import tiny_suite

from regbench.cli import main


def bench(name, dataset, dataset_args, shift):
    return {
        "name": name,
        "dataset": dataset,
        "dataset_args": dataset_args,
        "model": "mlp",
        "model_args": {"width": 16, "depth": 1},
        "shift": shift,
    }


def run_suite(write_suite, store_path, benchmark, capsys):
    suite = tiny_suite(benchmarks=[benchmark], seeds=[0], regularizers=["erm"])
    suite["train"]["epochs"] = 1
    assert main(["run", str(write_suite(suite)), "--store", str(store_path), "--workers", "1"]) == 0, (
        capsys.readouterr().err
    )
    with sqlite3.connect(store_path) as db:
        status, error = db.execute("SELECT status, error FROM runs").fetchone()
        assert status in ("ok", "collapsed"), error  # collapsed: a tiny fixture can leave a model at chance
        return {(s, m): v for s, m, v in db.execute("SELECT split, metric, value FROM metrics")}


def test_cifar10_python_batches(tmp_path, write_suite, store_path, capsys, isolated_cache):
    made = fx.make_cifar10(tmp_path)
    b = bench(
        "cifar",
        "cifar10",
        {"root": str(tmp_path), "md5": made["md5"]},
        {"kind": "covariate", "corruptions": ["gaussian_noise"], "severities": [3]},
    )
    metrics = run_suite(write_suite, store_path, b, capsys)
    assert ("ood/gaussian_noise/3", "accuracy") in metrics and ("test_id", "ece") in metrics


def test_cifar10c_published_npy(tmp_path, write_suite, store_path, capsys, isolated_cache):
    made = fx.make_cifar10(tmp_path)
    fx.make_cifar10c(tmp_path, made["test_labels"])
    b = bench(
        "cifar-c",
        "cifar10-c",
        {"root": str(tmp_path), "md5": made["md5"], "severities": [1, 5]},
        {"kind": "predefined"},
    )
    metrics = run_suite(write_suite, store_path, b, capsys)
    splits = {s for s, _ in metrics}
    assert {"ood/gaussian_noise/1", "ood/gaussian_noise/5", "ood/fog/1", "ood/fog/5"} <= splits


def test_wilds_waterbirds_records_wilds_own_eval(tmp_path, write_suite, store_path, capsys, isolated_cache):
    fx.make_waterbirds(tmp_path, per_cell=20)  # worst-group needs ≥ 20 per group
    b = bench("wb", "wilds:waterbirds", {"root": str(tmp_path), "image_size": 8}, {"kind": "predefined"})
    metrics = run_suite(write_suite, store_path, b, capsys)
    ood = [s for s, m in metrics if m == "wilds/acc_wg"]
    assert ood, "WILDS' own evaluator was not recorded"
    for split in ood:  # WILDS' worst-group accuracy is regbench's over the same (background, y) groups
        if (split, "worst_group_accuracy") in metrics:
            assert metrics[(split, "wilds/acc_wg")] == pytest.approx(metrics[(split, "worst_group_accuracy")])
        else:  # regbench records it only where every group has >= 20 examples
            assert metrics[(split, "smallest_group")] < 20
    assert any((split, "worst_group_accuracy") in metrics for split in ood)


def test_hf_local_parquet(tmp_path, write_suite, store_path, capsys, isolated_cache):
    made = fx.make_hf(tmp_path, kind="parquet")
    b = bench(
        "hf",
        f"hf:{made['path']}",
        {"image_size": 8},
        {"kind": "covariate", "corruptions": ["contrast"], "severities": [2]},
    )
    metrics = run_suite(write_suite, store_path, b, capsys)
    assert ("ood/contrast/2", "accuracy") in metrics


def test_missing_real_data_is_one_line_before_training(tmp_path, write_suite, store_path, capsys):
    b = bench("cifar", "cifar10", {"root": str(tmp_path / "nowhere")}, {"kind": "none"})
    suite = tiny_suite(benchmarks=[b], seeds=[0], regularizers=["erm"])
    assert main(["run", str(write_suite(suite)), "--store", str(store_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "regbench data download cifar10" in err and "nowhere" in err
    with sqlite3.connect(store_path) as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
