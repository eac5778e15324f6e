"""Where runs go on a GPU host, checked with a stubbed device count (no GPU needed): the local
pool spreads its workers over the GPUs and defaults to several per GPU where memory allows (docs/scaling.md)."""

from __future__ import annotations

import os
import sqlite3
from types import SimpleNamespace

import pytest
import torch
from scaling_helpers import write_suite

from regbench.cli import main
from regbench.harness.executors import LocalExecutor
from regbench.harness.executors.local import worker_device


@pytest.fixture
def two_gpus(monkeypatch):
    """This process believes it has 2 GPUs (worker processes still see none)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    gpu_memory(monkeypatch, 80)


def gpu_memory(monkeypatch, gib: int) -> None:
    """Every (stubbed) GPU has ``gib`` GiB of memory."""
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: SimpleNamespace(total_memory=gib * 2**30))


def test_pool_workers_spread_over_the_gpus_and_default_to_several_per_gpu(two_gpus, monkeypatch):
    assert [worker_device("cuda", i) for i in range(5)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    assert [worker_device("auto", i) for i in range(3)] == ["cuda:0", "cuda:1", "cuda:0"]
    assert worker_device("cuda:1", 0) == "cuda:1" and worker_device("cpu", 1) == "cpu"  # explicit: kept
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert LocalExecutor(device="auto").workers == LocalExecutor(device="cuda").workers == 8  # 4 per 80 GiB GPU
    assert LocalExecutor(device="cpu").workers == 16
    gpu_memory(monkeypatch, 24)
    assert LocalExecutor(device="cuda").workers == 2  # one per 24 GiB GPU
    gpu_memory(monkeypatch, 80)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert LocalExecutor(device="cuda").workers == 4  # no more workers than cores
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert LocalExecutor(device="cuda").workers == 2  # but at least one per GPU
    assert LocalExecutor(workers=3, device="cuda").workers == 3  # an explicit count wins


def test_without_gpus_auto_means_the_cpu_pool(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert worker_device("auto", 1) == "auto" and LocalExecutor(device="auto").workers == (os.cpu_count() or 1)


def test_each_pool_worker_is_handed_its_own_gpu(two_gpus, tmp_path):
    """The driver believes in 2 GPUs, the spawned workers see none: each worker's run fails
    naming the device it was handed, which shows that the two workers got cuda:0 and cuda:1."""
    suite = write_suite(tmp_path, epochs=1, seeds=(0, 1), regularizers=["erm"])
    store = tmp_path / "s.sqlite"
    # both runs fail by design, so the exit status says so (1)
    assert main(["run", str(suite), "--store", str(store), "--device", "auto", "--no-progress"]) == 1
    errors = [e for (e,) in sqlite3.connect(store).execute("SELECT error FROM runs WHERE status='failed'")]
    assert len(errors) == 2 and all(e.startswith("DeviceError") for e in errors)
    assert sorted(e.split("--device ")[1].split()[0] for e in errors) == ["cuda:0", "cuda:1"]


def test_slurm_resolves_auto_by_the_gpus_a_job_asks_for(tmp_path):
    pytest.importorskip("submitit")
    from regbench.harness.executors.slurm import SlurmExecutor

    def device(**kw) -> str:
        return SlurmExecutor(device="auto", cluster="local", work_dir=str(tmp_path), **kw).device_type()

    assert device(gpus_per_run=1) == "cuda" and device() == "cpu"
