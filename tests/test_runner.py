"""The harness end to end: reuse, resume after a kill, isolated failures, divergence, export."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch
from conftest import tiny_suite

from regbench.cli import main
from regbench.config import parse_suite
from regbench.harness.plan import plan_suite
from regbench.harness.run_plan import run_plan
from regbench.regularizers import REGULARIZERS, register_regularizer
from regbench.regularizers.base import Regularizer
from regbench.store import Store


def rows(store_path, sql):
    with sqlite3.connect(store_path) as db:
        return db.execute(sql).fetchall()


def test_second_run_trains_nothing(write_suite, store_path, capsys, isolated_cache):
    path = write_suite(tiny_suite())
    assert main(["run", str(path), "--store", str(store_path), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "4 runs to do, 0 reused" in out and "4 ok" in out
    created = rows(store_path, "SELECT run_key, created_at FROM runs ORDER BY run_key")
    assert main(["run", str(path), "--store", str(store_path)]) == 0
    assert "0 runs to do, 4 reused" in capsys.readouterr().out
    assert rows(store_path, "SELECT run_key, created_at FROM runs ORDER BY run_key") == created


def test_filters_select_subset(write_suite, store_path, capsys, isolated_cache):
    path = write_suite(tiny_suite())
    assert (
        main(["run", str(path), "--store", str(store_path), "--regularizers", "erm", "--seeds", "1", "--workers", "1"])
        == 0
    )
    assert rows(store_path, "SELECT regularizer, seed FROM runs") == [("erm", 1)]
    assert main(["run", str(path), "--store", str(store_path), "--regularizers", "ermm"]) == 1
    assert "Did you mean: erm" in capsys.readouterr().err
    assert main(["run", str(path), "--store", str(store_path), "--seeds", "7"]) == 1


class NaNLoss(Regularizer):
    """Test-only: a loss that is NaN from the first step."""

    kind = "loss"

    def loss(self, logits, y):
        return logits.sum() * float("nan")


@pytest.fixture
def nan_regularizer():
    register_regularizer("test_nan_loss")(NaNLoss)
    yield "test_nan_loss"
    REGULARIZERS.unregister("test_nan_loss")


def test_nan_loss_is_diverged_and_suite_continues(nan_regularizer, store_path, isolated_cache):
    plan = plan_suite(parse_suite(tiny_suite(regularizers=["erm", nan_regularizer], seeds=[0])))
    counts = run_plan(plan, Store(store_path), workers=1, progress=False)
    assert counts["ok"] == 1 and counts["diverged"] == 1
    status = dict(rows(store_path, "SELECT regularizer, status FROM runs"))
    assert status == {"erm": "ok", nan_regularizer: "diverged"}
    (error,) = rows(store_path, f"SELECT error FROM runs WHERE regularizer='{nan_regularizer}'")[0]
    assert "loss became nan in epoch 1" in error
    # a diverged run is a result: it is not retrained
    again = run_plan(plan, Store(store_path), workers=1, progress=False)
    assert again["trained"] == 0 and again["reused"] == 2


def test_failed_run_is_recorded_and_retried(store_path, isolated_cache, monkeypatch):
    plan = plan_suite(parse_suite(tiny_suite(seeds=[0])))
    import regbench.harness.run_one as runner

    real = runner.apply_training_options

    def broken(splits, spec):
        if spec.regularizer.display == "label_smoothing":
            raise RuntimeError("disk on fire")
        return real(splits, spec)

    monkeypatch.setattr(runner, "apply_training_options", broken)
    counts = run_plan(plan, Store(store_path), workers=1, progress=False)
    assert counts["ok"] == 1 and counts["failed"] == 1
    ok_before = rows(store_path, "SELECT * FROM runs WHERE status='ok'")
    (err,) = rows(store_path, "SELECT error FROM runs WHERE status='failed'")[0]
    assert err.startswith("RuntimeError: disk on fire")
    monkeypatch.setattr(runner, "apply_training_options", real)
    again = run_plan(plan, Store(store_path), workers=1, progress=False)
    assert again["trained"] == 1 and again["ok"] == 1
    assert (
        rows(store_path, "SELECT * FROM runs WHERE run_key IN (SELECT run_key FROM runs) AND regularizer='erm'")
        == ok_before
    )
    assert rows(store_path, "SELECT COUNT(*), SUM(status='ok') FROM runs") == [(2, 2)]


def test_killed_worker_fails_only_its_run(store_path, isolated_cache, monkeypatch):
    """SIGKILL both workers as the first run is handed out (each is then given one run): those two
    runs are recorded as failed with the signal, replacement workers finish every other run, and
    the next invocation retries only the failed ones."""
    import multiprocessing

    from regbench.harness import progress

    plan = plan_suite(parse_suite(tiny_suite(seeds=[0, 1, 2])))
    calls = {"n": 0}
    real_started = progress.RunProgress.started

    def kill_on_first(self, name):
        calls["n"] += 1
        if calls["n"] == 1:
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)
        real_started(self, name)

    monkeypatch.setattr(progress.RunProgress, "started", kill_on_first)
    counts = run_plan(plan, Store(store_path), workers=2, progress=False)
    assert counts["trained"] == 6 and counts["failed"] == 2 and counts["ok"] == 4
    for (err,) in rows(store_path, "SELECT error FROM runs WHERE status='failed'"):
        assert "worker process died" in err and "signal 9" in err
    monkeypatch.setattr(progress.RunProgress, "started", real_started)
    again = run_plan(plan, Store(store_path), workers=1, progress=False)
    assert again["trained"] == 2 and again["ok"] == 2
    assert rows(store_path, "SELECT COUNT(*), SUM(status='ok') FROM runs") == [(6, 6)]


def test_resume_after_sigkill_of_the_driver(write_suite, store_path, tmp_path):
    """Kill `regbench run` with SIGKILL mid-suite; the rerun trains only what was missing."""
    suite = tiny_suite(seeds=[0, 1, 2], regularizers=["erm", "label_smoothing"])
    suite["train"]["epochs"] = 40  # long enough (~0.5 s a run) that the kill lands mid-suite
    path = write_suite(suite)
    env = {**os.environ, "REGBENCH_CACHE": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "regbench.cli", "run", str(path), "--store", str(store_path), "--workers", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done_before = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if store_path.exists():
            try:
                done_before = rows(store_path, "SELECT COUNT(*) FROM runs")[0][0]
            except sqlite3.OperationalError:
                continue
            if done_before >= 2:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = rows(store_path, "SELECT run_key, created_at FROM runs")
    assert 2 <= len(kept) < 6, "the kill should land mid-suite"
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{6 - len(kept)} runs to do, {len(kept)} reused" in out.stdout
    after = rows(store_path, "SELECT run_key, created_at FROM runs")
    assert len(after) == 6 and len({k for k, _ in after}) == 6
    assert set(kept) <= set(after)  # nothing recorded before the kill was lost or redone


def test_export_formats(write_suite, store_path, tmp_path, isolated_cache, capsys):
    path = write_suite(tiny_suite(seeds=[0]))
    assert main(["run", str(path), "--store", str(store_path), "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["export", "--store", str(store_path), "--format", "jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 2
    for r in records:
        for key in (
            "run_key",
            "suite",
            "benchmark",
            "shift_kind",
            "regularizer",
            "params",
            "seed",
            "status",
            "error",
            "metrics",
            "timings",
            "env",
            "fingerprint",
        ):
            assert key in r
        assert 0 <= r["metrics"]["test_id"]["accuracy"] <= 1
        assert set(r["metrics"]) >= {"train", "test_id", "ood/gaussian_noise/2", "ood/gaussian_noise/5", "run"}
        assert r["env"]["torch"] == torch.__version__
    csv_path, pq_path = tmp_path / "r.csv", tmp_path / "r.parquet"
    assert main(["export", "--store", str(store_path), "--format", "csv", "--out", str(csv_path)]) == 0
    assert main(["export", "--store", str(store_path), "--format", "parquet", "--out", str(pq_path)]) == 0
    import pandas as pd

    a, b = pd.read_csv(csv_path), pd.read_parquet(pq_path)
    assert len(a) == len(b) == 2
    assert sorted(a["metric.test_id.accuracy"]) == pytest.approx(
        sorted(r["metrics"]["test_id"]["accuracy"] for r in records)
    )


def test_cuda_without_gpu_is_one_clear_line(write_suite, store_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the error path needs one without")
    path = write_suite(tiny_suite())
    assert main(["run", str(path), "--store", str(store_path), "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no CUDA GPU" in err and "Traceback" not in err
