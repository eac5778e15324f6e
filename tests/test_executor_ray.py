"""The Ray executor on a private local Ray instance with 2 CPUs."""

from __future__ import annotations

import json
import sqlite3
import sys

import pytest
from scaling_helpers import metric_rows, reference_store, statuses

from regbench.cli import main
from regbench.train.checkpoint import CRASH_ENV

ray = pytest.importorskip("ray", reason="ray is an optional extra: pip install -e '.[ray]'")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return reference_store(tmp_path_factory.mktemp("ref"))


def test_ray_records_the_same_runs_and_metrics_as_the_local_executor(reference, tmp_path):
    suite, ref = reference
    store = tmp_path / "ray.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--executor", "ray", "--workers", "2", "--no-progress"]) == 0
    assert not ray.is_initialized()  # the private instance was shut down
    assert statuses(store) == statuses(ref)
    assert metric_rows(store) == metric_rows(ref)


def test_a_run_whose_worker_is_killed_is_retried_resumed_and_recorded_once(reference, tmp_path, monkeypatch):
    suite, ref = reference
    store = tmp_path / "ray.sqlite"
    marker = tmp_path / "killed"
    monkeypatch.setenv(CRASH_ENV, f"2:{marker}")  # SIGKILL the worker after its epoch-2 checkpoint, once
    assert (
        main(
            [
                "run",
                str(suite),
                "--store",
                str(store),
                "--executor",
                "ray",
                "--workers",
                "2",
                "--checkpoint-every",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert marker.exists()  # a worker really died
    db = sqlite3.connect(store)
    rows = db.execute("SELECT run_key, status, timings FROM runs").fetchall()
    assert sorted(s for _, s, _ in rows) == ["ok", "ok"]  # recorded once each, both ok
    resumed = [json.loads(t).get("resumed_from_epoch") for _, _, t in rows]
    assert sorted(resumed, key=str) == [2, None]  # the retry resumed from the checkpoint
    assert metric_rows(store) == metric_rows(ref)
    assert not list((tmp_path / "checkpoints").glob("*.pt"))


def test_missing_ray_gives_one_line_with_the_install_command(tmp_path, monkeypatch, capsys):
    from scaling_helpers import write_suite

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    suite = write_suite(tmp_path)
    assert main(["run", str(suite), "--store", str(tmp_path / "s.sqlite"), "--executor", "ray"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install -e '.[ray]'" in err


def test_cuda_with_zero_gpus_per_run_is_refused_before_anything_runs(tmp_path, capsys):
    from scaling_helpers import write_suite

    suite = write_suite(tmp_path)
    store = tmp_path / "s.sqlite"
    args = ["run", str(suite), "--store", str(store), "--executor", "ray", "--device", "cuda", "--gpus-per-run", "0"]
    assert main(args) == 1
    assert "--gpus-per-run" in capsys.readouterr().err
    assert not statuses(store)


@pytest.mark.parametrize(
    ("device", "gpus_per_run", "cluster_gpus", "placed"),
    [
        ("auto", None, 4, ("cuda", 1.0)),  # auto on a GPU cluster asks Ray for a GPU, like cuda
        ("auto", 0.25, 4, ("cuda", 0.25)),
        ("auto", None, 0, ("cpu", 0.0)),  # auto on a CPU cluster: no GPU asked for
        ("cuda", None, 2, ("cuda", 1.0)),  # --gpus-per-run defaults to 1
        ("cpu", None, 2, ("cpu", 0.0)),
    ],
)
def test_ray_resolves_auto_like_cuda_and_asks_for_one_gpu_by_default(device, gpus_per_run, cluster_gpus, placed):
    from regbench.harness.executors.ray import ray_placement

    assert ray_placement(device, gpus_per_run, cluster_gpus) == placed


def test_cuda_on_a_ray_cluster_without_gpus_is_one_error():
    from regbench.harness.executors.base import ExecutorError
    from regbench.harness.executors.ray import ray_placement

    with pytest.raises(ExecutorError, match="the Ray cluster has no GPU"):
        ray_placement("cuda", None, 0)


def test_a_model_plugin_loads_by_path_in_ray_workers(tmp_path):
    from test_model_plugins import recorded, write_model, write_suite

    suite = write_suite(tmp_path, f"{write_model(tmp_path)}:TinyNet", {"hidden": 4})
    store = tmp_path / "ray.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--executor", "ray", "--workers", "2", "--no-progress"]) == 0
    rows = recorded(store)
    assert [s for s, _ in rows] == ["ok", "ok"]
    assert all(code and code.startswith("sha256:") for _, code in rows)


def test_the_example_mnist_cnn_runs_in_ray_workers(tmp_path):
    # a local Ray of 1 CPU: the plugin's file is loaded by path in the Ray worker process
    from test_model_plugins import EXAMPLE, recorded, write_suite

    suite = write_suite(tmp_path, f"{EXAMPLE}:MNISTCNN")
    store = tmp_path / "ray.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--executor", "ray", "--workers", "1", "--no-progress"]) == 0
    rows = recorded(store)
    assert [s for s, _ in rows] == ["ok", "ok"]
    assert all(code and code.startswith("sha256:") for _, code in rows)
