"""The Slurm executor through submitit's local cluster (jobs are local processes)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time

import pytest
from scaling_helpers import metric_rows, reference_store, statuses, write_suite

from regbench.cli import main
from regbench.harness.plan import load_suite
from regbench.harness.run_plan import run_plan
from regbench.store import Store
from regbench.train.checkpoint import CRASH_ENV

submitit = pytest.importorskip("submitit", reason="submitit is an optional extra: pip install -e '.[slurm]'")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return reference_store(tmp_path_factory.mktemp("ref"), seeds=(0,))  # one run keeps this file fast


def _run_local_slurm(suite, store_path, **kw):
    store = Store(store_path)
    try:
        return run_plan(
            load_suite(suite), store, executor="slurm", cluster="local", progress=False, poll_seconds=0.2, **kw
        )
    finally:
        store.close()


def test_slurm_array_records_the_same_runs_as_the_local_executor(reference, tmp_path):
    suite, ref = reference
    counts = _run_local_slurm(suite, tmp_path / "s.sqlite")
    assert counts["ok"] == 1
    assert metric_rows(tmp_path / "s.sqlite") == metric_rows(ref)
    assert list((tmp_path / "submitit").rglob("*_log.out"))  # submitit's logs live next to the store


def test_a_preempted_job_is_requeued_and_resumes_from_its_checkpoint(reference, tmp_path, monkeypatch):
    suite, ref = reference
    marker = tmp_path / "preempted"
    # the job pauses after its epoch-2 checkpoint; we then preempt it as Slurm does (SIGUSR2)
    monkeypatch.setenv(CRASH_ENV, f"2:{marker}:pause")

    def preempt():
        deadline = time.time() + 120
        while time.time() < deadline:
            if marker.exists() and marker.read_text():
                os.kill(int(marker.read_text()), signal.SIGUSR2)
                return
            time.sleep(0.1)

    t = threading.Thread(target=preempt, daemon=True)
    t.start()
    counts = _run_local_slurm(suite, tmp_path / "s.sqlite", checkpoint_every=1)
    t.join(timeout=5)
    assert counts["ok"] == 1 and counts["trained"] == 1, counts
    db = sqlite3.connect(tmp_path / "s.sqlite")
    resumed = [json.loads(t).get("resumed_from_epoch") for (t,) in db.execute("SELECT timings FROM runs")]
    assert resumed == [2]  # the requeued job went on from epoch 2
    assert metric_rows(tmp_path / "s.sqlite") == metric_rows(ref)
    assert not list((tmp_path / "checkpoints").glob("*.pt"))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--gpus-per-run", "0.5"], "whole number"),
        ([], "no Slurm here"),  # this machine has no sbatch; a cluster login node does
    ],
)
def test_slurm_option_errors_are_one_line_and_nothing_is_recorded(tmp_path, capsys, extra, message):
    if message == "no Slurm here" and submitit.SlurmExecutor.affinity() >= 0:
        pytest.skip("sbatch is available on this machine")
    suite = write_suite(tmp_path)
    store = tmp_path / "s.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--executor", "slurm", "--partition", "gpu", *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not statuses(store)


def test_missing_submitit_gives_one_line_with_the_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "submitit", None)
    suite = write_suite(tmp_path)
    assert main(["run", str(suite), "--store", str(tmp_path / "s.sqlite"), "--executor", "slurm"]) == 1
    assert "pip install -e '.[slurm]'" in capsys.readouterr().err
