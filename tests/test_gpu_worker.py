"""A pool worker after a CUDA error, checked without a GPU: the run is recorded as failed,
the worker exits, and the driver replaces it (a broken CUDA context fails every later call)."""

from __future__ import annotations

import queue

import pytest
import torch

from regbench.harness import run_one as R
from regbench.harness.executors import local

CUDA = torch.device("cuda")


@pytest.fixture
def healthy(monkeypatch):
    monkeypatch.setattr(R, "_cuda_context_broken", False)


@pytest.mark.parametrize(
    ("err", "dev", "broken"),
    [
        (RuntimeError("CUDA error: an illegal memory access was encountered"), CUDA, True),
        (RuntimeError("CUDA error: device-side assert triggered"), CUDA, True),
        (torch.cuda.OutOfMemoryError("CUDA out of memory. CUDA error"), CUDA, False),  # recoverable
        (ValueError("bad parameter"), CUDA, False),
        (RuntimeError("CUDA error: unspecified launch failure"), torch.device("cpu"), False),
    ],
)
def test_a_cuda_error_marks_the_context_broken(healthy, err, dev, broken):
    R.note_failure(err, dev)
    assert R.cuda_context_broken() is broken


def test_a_worker_exits_after_a_cuda_error_and_leaves_its_next_unit(healthy, monkeypatch):
    for name in ("lead_own_group", "die_with_parent", "prepare_process"):
        monkeypatch.setattr(local, name, lambda *a: None)

    def run_unit(unit, device, options, everywhere):  # the unit's run failed with a CUDA error
        R.note_failure(RuntimeError("CUDA error: misaligned address"), CUDA)
        return ["record"]

    monkeypatch.setattr(local, "run_unit", run_unit)
    tasks, results = queue.Queue(), queue.Queue()
    tasks.put(("unit 1",))
    tasks.put(("unit 2",))
    local._worker(tasks, results, "cuda:0", parent=0)
    got = [results.get_nowait()[1] for _ in range(results.qsize())]
    assert got == [None, ["record"], local.RETIRE]
    assert tasks.get_nowait() == ("unit 2",)  # never taken


class _Exited:
    exitcode = 0

    def join(self, timeout=None):
        return None


def test_the_driver_replaces_a_retired_worker_and_requeues_what_it_was_handed(monkeypatch):
    pool = local._Pool("cuda", None, False, [("a",), ("b",)], bar=None)
    spawned = []
    monkeypatch.setattr(pool, "spawn", spawned.append)
    pool.workers[11], pool.slots[11] = (_Exited(), None), 1
    pool.holding[11] = pool.pending.pop()  # handed "a" right after its last records
    assert list(pool.receive(11, local.RETIRE)) == []
    assert 11 not in pool.workers and 11 not in pool.holding
    assert pool.pending == [("b",), ("a",)]  # "a" runs next, on the replacement
    assert spawned == [1]  # the replacement takes the same slot, so the same GPU
