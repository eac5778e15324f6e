"""The ``local`` executor: a pool of worker processes on this machine (or this process alone).

Each worker holds one unit of work at a time — a run, or with ``--batch-seeds`` one seed
group (regbench.harness.seed_groups) — so a worker that dies (killed, out of memory) fails
only that unit's runs; it is replaced and the remaining units go on. Groups and runs share
one pool: a separate phase for the runs that cannot be batched left workers idle at the end
of each phase.
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
from regbench.harness.run_one import record
from regbench.harness.seed_groups import run_unit, units_of
from regbench.store import RunRecord
from regbench.train.execution import ExecOptions, prepare_process


def _worker(
    tasks: mp.Queue, results: mp.Queue, device: str, parent: int, options: ExecOptions | None = None, everywhere=False
) -> None:
    """Worker loop: take a unit (a tuple of runs) from its own queue, run it, send its records.
    Exits if orphaned.

    The runs' thread count comes with their options (``run_one`` applies it)."""
    prepare_process()  # before this process's first CUDA use
    while True:
        try:
            unit = tasks.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:  # the driver was killed: do not linger
                return
            continue
        if unit is None:
            return
        results.put((os.getpid(), None))  # started: the unit's time limit counts from here
        results.put((os.getpid(), run_unit(unit, device, options, everywhere)))


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
    outlives its unit's time limit (``run_timeout`` seconds per run of the unit) has the
    unit's runs recorded as ``failed`` (with the exit code, or ``timeout:``), is replaced on
    the same device, and the remaining units go on. Each run's thread count comes with its
    options.
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

    def run(self, specs: list[RunSpec], progress: bool = True, batch_seeds: bool | str = False) -> Iterator[RunRecord]:
        """Every run's record, as each finishes. ``batch_seeds``: train each seed group as one
        stacked model where that pays (True) or wherever it can (``"everywhere"``);
        regbench.harness.seed_groups.run_unit."""
        units = units_of(specs) if batch_seeds else [(s,) for s in specs]
        everywhere = batch_seeds == "everywhere"
        with RunProgress(len(specs), enabled=progress) as bar:
            if (self.workers == 1 or len(units) == 1) and not self.run_timeout:
                for unit in units:
                    for spec in unit:
                        bar.started(spec.name)
                    for rec in run_unit(unit, self.device, self.options, everywhere):
                        bar.finished(_name(unit, rec), rec.status)
                        yield rec
                return
            yield from self._run_pool(units, bar, everywhere)

    def _overdue(self, started: dict[int, float], holding: dict[int, tuple[RunSpec, ...]]) -> list[int]:
        """Workers whose current unit has run longer than ``run_timeout`` per run."""
        if not self.run_timeout:
            return []
        now = time.monotonic()
        return [p for p, t in started.items() if p in holding and now - t > self.run_timeout * len(holding[p])]

    def _run_pool(self, units: list[tuple[RunSpec, ...]], bar, everywhere: bool) -> Iterator[RunRecord]:
        # Each worker has its own task queue and holds one unit at a time, so the driver
        # always knows which runs a dead worker took with it.
        ctx = mp.get_context("spawn")  # fork after torch has started threads can deadlock
        n = min(self.workers, len(units))
        results = ctx.Queue()
        pending = list(reversed(units))
        workers: dict[int, tuple[Any, Any]] = {}  # pid → (process, its task queue)
        holding: dict[int, tuple[RunSpec, ...]] = {}  # pid → the unit it is executing
        slots: dict[int, int] = {}  # pid → its slot, which fixes its device
        started: dict[int, float] = {}  # pid → when its unit started (monotonic seconds)

        def spawn(slot: int) -> None:
            tasks = ctx.Queue()
            device = worker_device(self.device, slot)
            args = (tasks, results, device, os.getpid(), self.options, everywhere)
            p = ctx.Process(target=_worker, args=args, daemon=True)
            p.start()
            workers[p.pid], slots[p.pid] = (p, tasks), slot

        def feed(pid: int) -> None:
            if pending and pid not in holding:
                unit = pending.pop()
                holding[pid] = unit
                started.pop(pid, None)
                workers[pid][1].put(unit)
                for spec in unit:
                    bar.started(spec.name)

        def lost(unit: tuple[RunSpec, ...], make) -> Iterator[RunRecord]:
            for spec in unit:
                rec = make(spec)
                bar.finished(spec.name, rec.status)
                yield rec

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
                    unit = holding.pop(pid)
                    size = len(unit)
                    yield from lost(unit, lambda s, n=size: _timed_out(s, self.run_timeout, n))
                    if pending:
                        spawn(slots.pop(pid))  # the replacement takes the killed worker's GPU
                for pid in list(workers):  # a replacement takes the next unit
                    feed(pid)
                if not holding:
                    break
                try:
                    pid, recs = results.get(timeout=0.5)
                except queue.Empty:
                    for pid, (p, _) in list(workers.items()):
                        if not p.is_alive():
                            workers.pop(pid)
                            unit = holding.pop(pid, None)
                            if unit is not None:
                                yield from lost(unit, lambda s, code=p.exitcode: _worker_died(s, code))
                            if pending:
                                spawn(slots.pop(pid))  # the replacement takes the dead worker's GPU
                    for pid in list(workers):
                        feed(pid)
                    continue
                if recs is None:  # the worker started its unit
                    started[pid] = time.monotonic()
                    continue
                if pid not in holding:  # a late result of a unit already recorded as timed out
                    continue
                unit = holding.pop(pid)
                for rec in recs:
                    bar.finished(_name(unit, rec), rec.status)
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


def _name(unit: tuple[RunSpec, ...], rec: RunRecord) -> str:
    """The progress name of the run of ``unit`` that ``rec`` records."""
    return next((s.name for s in unit if s.run_key == rec.run_key), unit[0].name)


def _timed_out(spec: RunSpec, seconds: float | None, runs: int = 1) -> RunRecord:
    if runs == 1:
        return record(spec, "failed", error=f"timeout: the run exceeded its time limit of {seconds:g} s and was killed")
    why = f"its seed group of {runs} runs exceeded their time limit of {runs} × {seconds:g} s and was killed"
    return record(spec, "failed", error=f"timeout: {why}")


def _worker_died(spec: RunSpec, exitcode: int | None) -> RunRecord:
    why = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
    return record(
        spec,
        "failed",
        error=f"worker process died while running this run ({why}); it will be retried by the next invocation",
    )
