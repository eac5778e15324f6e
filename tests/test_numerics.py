"""Device type and precision are recorded with every run, and a suite never mixes CPU fp32 and
CUDA bf16 results: the driver refuses before anything trains or is reused (harness/numerics.py)."""

from __future__ import annotations

import json
import sqlite3

import torch
from scaling_helpers import statuses, write_suite

from regbench.cli import main


def _run(suite, store, *extra):
    return main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress", *extra])


def test_records_say_device_and_precision(tmp_path):
    suite = write_suite(tmp_path, epochs=1, regularizers=["erm"])
    store = tmp_path / "s.sqlite"
    assert _run(suite, store) == 0
    ((env,),) = sqlite3.connect(store).execute("SELECT env FROM runs").fetchall()
    assert (json.loads(env)["device"], json.loads(env)["precision"]) == ("cpu", "fp32")


def test_a_suite_with_cuda_bf16_runs_refuses_cpu_runs_and_the_other_way_round(tmp_path, monkeypatch, capsys):
    suite = write_suite(tmp_path, epochs=1, seeds=(0, 1), regularizers=["erm"])
    store = tmp_path / "s.sqlite"
    assert _run(suite, store, "--seeds", "0") == 0
    db = sqlite3.connect(store)
    db.execute("UPDATE runs SET env=? WHERE seed=0", (json.dumps({"device": "cuda:0", "precision": "bf16"}),))
    db.commit()
    db.close()
    before = statuses(store)
    capsys.readouterr()
    assert _run(suite, store) == 1  # seed 1 would be a CPU run beside a CUDA one
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "1 on cuda/bf16" in err and "computes on cpu/fp32" in err
    assert statuses(store) == before  # nothing trained
    # and a GPU invocation on a CPU-only suite is refused the same way (stubbed GPUs: no run starts)
    cpu_store = tmp_path / "cpu.sqlite"
    assert _run(suite, cpu_store, "--seeds", "0") == 0
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    capsys.readouterr()
    assert _run(suite, cpu_store, "--device", "auto") == 1
    assert "1 on cpu/fp32" in capsys.readouterr().err and len(statuses(cpu_store)) == 1
