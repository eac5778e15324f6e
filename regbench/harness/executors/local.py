"""The ``local`` executor: a pool of worker processes on this machine (or this process alone).

Each worker holds one run at a time, so a worker that dies (killed, out of memory) fails only
that run; it is replaced and the remaining runs go on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from collections.abc import Iterator
from typing import Any

from regbench.harness.plan import RunSpec
from regbench.harness.progress import RunProgress
from regbench.harness.run_one import record, run_one
from regbench.store import RunRecord
from regbench.train.execution import ExecOptions, prepare_process


def _worker(tasks: mp.Queue, results: mp.Queue, device: str, parent: int, options: ExecOptions | None = None) -> None:
    """Worker loop: take a run from its own queue, run it, send the record. Exits if orphaned.

    The run's thread count comes with its options (``run_one`` applies it)."""
    prepare_process()  # before this process's first CUDA use
    while True:
        try:
            spec = tasks.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:  # the driver was killed: do not linger
                return
            continue
        if spec is None:
            return
        results.put((os.getpid(), None))  # started: the run's time limit counts from here
        results.put((os.getpid(), run_one(spec, device, options)))


def on_cuda(device: str) -> bool:
    """True when ``device`` (``auto`` | ``cpu`` | ``cuda[:N]``) means the GPUs of this machine."""
    import torch

    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def worker_device(device: str, slot: int) -> str:
    """The device of pool worker ``slot``: ``cuda:{slot % device_count}`` for ``cuda`` and for
    ``auto`` on a GPU host, so workers spread over every GPU rather than all opening ``cuda:0``;
    an explicit ``cuda:N`` or ``cpu`` is kept as given."""
    if not on_cuda(device):
        return device
    import torch

    return f"cuda:{slot % max(1, torch.cuda.device_count())}"


def default_workers(device: str) -> int:
    """One worker per GPU on CUDA (a CUDA context and a copy of the data each), else per core."""
    if on_cuda(device):
        import torch

        return max(1, torch.cuda.device_count())
    return os.cpu_count() or 1


class LocalExecutor:
    """A pool of ``workers`` processes (default: one per GPU on CUDA, else one per core).

    ``workers=1`` runs in this process (no start-up cost), unless ``run_timeout`` is set: a
    run then always runs in a worker, so that a hung one can be killed. In a pool, worker ``i``
    runs on :func:`worker_device` (its own GPU). A worker that dies (killed, out of memory) or
    outlives ``run_timeout`` seconds on one run has its run recorded as ``failed`` (with the
    exit code, or ``timeout:``), is replaced on the same device, and the remaining runs go on.
    Each run's thread count comes with its options.
    """

    def __init__(
        self,
        workers: int | None = None,
        device: str = "cpu",
        options: ExecOptions | None = None,
        run_timeout: float | None = None,
    ):
        self.workers = workers or default_workers(device)
        self.device = device
        self.options = options
        self.run_timeout = run_timeout

    def device_type(self) -> str:
        """``cuda`` or ``cpu``: where this executor's runs will compute."""
        return "cuda" if self.device.startswith("cuda") or on_cuda(self.device) else "cpu"

    def run(self, specs: list[RunSpec], progress: bool = True) -> Iterator[RunRecord]:
        with RunProgress(len(specs), enabled=progress) as bar:
            if (self.workers == 1 or len(specs) == 1) and not self.run_timeout:
                for spec in specs:
                    bar.started(spec.name)
                    rec = run_one(spec, self.device, self.options)
                    bar.finished(spec.name, rec.status)
                    yield rec
                return
            yield from self._run_pool(specs, bar)

    def _overdue(self, started: dict[int, float], holding: dict[int, RunSpec]) -> list[int]:
        """Workers whose current run has run longer than ``run_timeout``."""
        if not self.run_timeout:
            return []
        now = time.monotonic()
        return [pid for pid, t in started.items() if pid in holding and now - t > self.run_timeout]

    def _run_pool(self, specs: list[RunSpec], bar) -> Iterator[RunRecord]:
        # Each worker has its own task queue and holds one run at a time, so the driver
        # always knows which run a dead worker took with it.
        ctx = mp.get_context("spawn")  # fork after torch has started threads can deadlock
        n = min(self.workers, len(specs))
        results = ctx.Queue()
        pending = list(reversed(specs))
        workers: dict[int, tuple[Any, Any]] = {}  # pid → (process, its task queue)
        holding: dict[int, RunSpec] = {}  # pid → the run it is executing
        slots: dict[int, int] = {}  # pid → its slot, which fixes its device
        started: dict[int, float] = {}  # pid → when its run started (monotonic seconds)

        def spawn(slot: int) -> None:
            tasks = ctx.Queue()
            device = worker_device(self.device, slot)
            p = ctx.Process(target=_worker, args=(tasks, results, device, os.getpid(), self.options), daemon=True)
            p.start()
            workers[p.pid], slots[p.pid] = (p, tasks), slot

        def feed(pid: int) -> None:
            if pending and pid not in holding:
                spec = pending.pop()
                holding[pid] = spec
                started.pop(pid, None)
                workers[pid][1].put(spec)
                bar.started(spec.name)

        for slot in range(n):
            spawn(slot)
        for pid in list(workers):
            feed(pid)
        try:
            while holding:
                for pid in self._overdue(started, holding):
                    p, _ = workers.pop(pid)
                    p.kill()  # a hung hook ignores everything else
                    p.join()
                    spec = holding.pop(pid)
                    rec = _timed_out(spec, self.run_timeout)
                    bar.finished(spec.name, rec.status)
                    yield rec
                    if pending:
                        spawn(slots.pop(pid))  # the replacement takes the killed worker's GPU
                for pid in list(workers):  # a replacement takes the next run
                    feed(pid)
                if not holding:
                    break
                try:
                    pid, rec = results.get(timeout=0.5)
                except queue.Empty:
                    for pid, (p, _) in list(workers.items()):
                        if not p.is_alive():
                            workers.pop(pid)
                            spec = holding.pop(pid, None)
                            if spec is not None:
                                rec = _worker_died(spec, p.exitcode)
                                bar.finished(spec.name, rec.status)
                                yield rec
                            if pending:
                                spawn(slots.pop(pid))  # the replacement takes the dead worker's GPU
                    for pid in list(workers):
                        feed(pid)
                    continue
                if rec is None:  # the worker started its run
                    started[pid] = time.monotonic()
                    continue
                if pid not in holding:  # a late result of a run already recorded as timed out
                    continue
                spec = holding.pop(pid)
                bar.finished(spec.name, rec.status)
                yield rec
                feed(pid)
        finally:
            for _, tasks in workers.values():
                tasks.put(None)
            deadline = time.time() + 5
            for p, _ in workers.values():
                p.join(timeout=max(0.1, deadline - time.time()))
                if p.is_alive():
                    p.terminate()


def _timed_out(spec: RunSpec, seconds: float | None) -> RunRecord:
    return record(spec, "failed", error=f"timeout: the run exceeded its time limit of {seconds:g} s and was killed")


def _worker_died(spec: RunSpec, exitcode: int | None) -> RunRecord:
    why = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
    return record(
        spec,
        "failed",
        error=f"worker process died while running this run ({why}); it will be retried by the next invocation",
    )
