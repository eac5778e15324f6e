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

from regbench.harness.executors.process_group import die_with_parent, kill_group, lead_own_group
from regbench.harness.plan import RunSpec
from regbench.harness.progress import RunProgress
from regbench.harness.run_one import cuda_context_broken, record
from regbench.harness.seed_groups import run_unit, units_of
from regbench.store import RunRecord
from regbench.train.execution import ExecOptions, prepare_process


RETIRE = "retire"  # a worker's last message: its CUDA context broke, replace it


def _worker(
    tasks: mp.Queue, results: mp.Queue, device: str, parent: int, options: ExecOptions | None = None, everywhere=False
) -> None:
    """Worker loop: take a unit (a tuple of runs) from its own queue, run it, send its records.

    The worker leads its own process group, which ends with it (timeout, driver's death:
    regbench.harness.executors.process_group). The runs' thread count comes with their
    options (``run_one`` applies it)."""
    lead_own_group()  # before any run can start a child process
    die_with_parent(parent)  # an orphan would train a run nobody records
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
        if cuda_context_broken():  # every later CUDA call here would fail: a fresh worker takes over
            results.put((os.getpid(), RETIRE))
            return


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


GPU_MEMORY_PER_WORKER = 16 * 2**30  # bytes of GPU memory a worker may count on (context, data, model)
MAX_WORKERS_PER_GPU = 4  # small runs leave a large GPU idle one at a time; more only contend


def default_workers(device: str) -> int:
    """On CUDA, several workers per GPU: one per 16 GiB of the smallest GPU's memory, at most
    4, at least 1 (each a CUDA context and a copy of the data), no more than the cores; else
    one per core."""
    cores = os.cpu_count() or 1
    if on_cuda(device):
        import torch

        gpus = max(1, torch.cuda.device_count())
        memory = min(torch.cuda.get_device_properties(i).total_memory for i in range(gpus))
        per_gpu = max(1, min(MAX_WORKERS_PER_GPU, memory // GPU_MEMORY_PER_WORKER))
        return max(gpus, min(gpus * per_gpu, cores))
    return cores


class LocalExecutor:
    """A pool of ``workers`` processes (default: :func:`default_workers`, up to 4 per GPU on CUDA, else one per core).

    ``workers=1`` runs in this process (no start-up cost), unless ``run_timeout`` is set: a
    run then always runs in a worker, so that a hung one can be killed. ``workers > 1`` sends
    every unit to a worker, even a single one, so a run that kills its process never takes
    the driver with it. Each worker leads its own process group: a timeout kills the group,
    children of its hooks included, and a worker whose driver dies ends its group. In a pool, worker ``i``
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
            if self.workers == 1 and not self.run_timeout:
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
        """Every unit's records from a pool of worker processes, replacing the workers that die
        or outlive their unit's time limit (their units' runs recorded as failed)."""
        pool = _Pool(self.device, self.options, everywhere, units, bar)
        for slot in range(min(self.workers, len(units))):
            pool.spawn(slot)
        pool.feed_all()
        try:
            while pool.holding:
                for pid in self._overdue(pool.started, pool.holding):
                    yield from pool.kill_overdue(pid, self.run_timeout)
                pool.feed_all()  # a replacement takes the next unit
                if not pool.holding:
                    break
                try:
                    pid, recs = pool.results.get(timeout=0.5)
                except queue.Empty:
                    yield from pool.reap_dead()
                    pool.feed_all()
                    continue
                yield from pool.receive(pid, recs)
        finally:
            pool.shutdown()


class _Pool:
    """The driver's side of a pool: its workers, the units still to run, and who holds which.

    Each worker has its own task queue and holds one unit at a time, so the driver always
    knows which runs a dead worker took with it.
    """

    def __init__(
        self,
        device: str,
        options: ExecOptions | None,
        everywhere: bool,
        units: list[tuple[RunSpec, ...]],
        bar,
    ):
        self.ctx = mp.get_context("spawn")  # fork after torch has started threads can deadlock
        self.device, self.options, self.everywhere, self.bar = device, options, everywhere, bar
        self.results = self.ctx.Queue()
        self.pending = list(reversed(units))
        self.workers: dict[int, tuple[Any, Any]] = {}  # pid → (process, its task queue)
        self.holding: dict[int, tuple[RunSpec, ...]] = {}  # pid → the unit it is executing
        self.slots: dict[int, int] = {}  # pid → its slot, which fixes its device
        self.started: dict[int, float] = {}  # pid → when its unit started (monotonic seconds)

    def spawn(self, slot: int) -> None:
        """Start a worker on ``slot``'s device."""
        tasks = self.ctx.Queue()
        device = worker_device(self.device, slot)
        args = (tasks, self.results, device, os.getpid(), self.options, self.everywhere)
        p = self.ctx.Process(target=_worker, args=args, daemon=True)
        p.start()
        self.workers[p.pid], self.slots[p.pid] = (p, tasks), slot

    def feed(self, pid: int) -> None:
        """Hand worker ``pid`` the next unit, if any is left and it holds none."""
        if self.pending and pid not in self.holding:
            unit = self.pending.pop()
            self.holding[pid] = unit
            self.started.pop(pid, None)
            self.workers[pid][1].put(unit)
            for spec in unit:
                self.bar.started(spec.name)

    def feed_all(self) -> None:
        """Hand every idle worker a unit, while units are left."""
        for pid in list(self.workers):
            self.feed(pid)

    def lost(self, unit: tuple[RunSpec, ...], make) -> Iterator[RunRecord]:
        """The records ``make(spec)`` of a unit whose worker was lost."""
        for spec in unit:
            rec = make(spec)
            self.bar.finished(spec.name, rec.status)
            yield rec

    def kill_overdue(self, pid: int, run_timeout: float | None) -> Iterator[RunRecord]:
        """Kill worker ``pid``, past its unit's time limit; its runs are recorded as timed out."""
        p, _ = self.workers.pop(pid)
        kill_group(pid)  # a hung hook ignores everything else; its children go too
        p.kill()  # (a worker that has not made its group yet)
        p.join()
        unit = self.holding.pop(pid)
        size = len(unit)
        yield from self.lost(unit, lambda s, n=size: _timed_out(s, run_timeout, n))
        if self.pending:
            self.spawn(self.slots.pop(pid))  # the replacement takes the killed worker's GPU

    def reap_dead(self) -> Iterator[RunRecord]:
        """Record the units of workers that died as failed, and replace those workers."""
        for pid, (p, _) in list(self.workers.items()):
            if not p.is_alive():
                kill_group(pid)  # what its runs started dies with it
                self.workers.pop(pid)
                unit = self.holding.pop(pid, None)
                if unit is not None:
                    yield from self.lost(unit, lambda s, code=p.exitcode: _worker_died(s, code))
                if self.pending:
                    self.spawn(self.slots.pop(pid))  # the replacement takes the dead worker's GPU

    def receive(self, pid: int, recs: list[RunRecord] | None) -> Iterator[RunRecord]:
        """Handle one message of worker ``pid``: its unit started (``recs`` None), or its records."""
        if recs is None:  # the worker started its unit
            self.started[pid] = time.monotonic()
            return
        if recs == RETIRE:
            self.retire(pid)
            return
        if pid not in self.holding:  # a late result of a unit already recorded as timed out
            return
        unit = self.holding.pop(pid)
        for rec in recs:
            self.bar.finished(_name(unit, rec), rec.status)
            yield rec
        self.feed(pid)

    def retire(self, pid: int) -> None:
        """Replace worker ``pid``, which exits after a CUDA error; the unit it was handed after
        its last records never started there and goes back to the queue."""
        p, _ = self.workers.pop(pid)
        p.join(timeout=30)
        unit = self.holding.pop(pid, None)
        self.started.pop(pid, None)
        if unit is not None:
            self.pending.append(unit)
        if self.pending:
            self.spawn(self.slots.pop(pid))  # the replacement takes the retired worker's GPU

    def shutdown(self) -> None:
        """Kill at once the workers still holding a unit (the driver is giving up: interrupted,
        or an error), ask the others to exit, and kill those still alive after 5 s. Every
        worker's process group is killed, so nothing its runs started outlives the pool."""
        for pid, (p, tasks) in self.workers.items():
            if pid in self.holding:
                kill_group(pid)
                p.kill()
            else:
                tasks.put(None)
        deadline = time.time() + 5
        for pid, (p, _) in self.workers.items():
            p.join(timeout=max(0.1, deadline - time.time()))
            kill_group(pid)  # the worker if still alive, and whatever its runs left running
            if p.is_alive():
                p.kill()
                p.join()


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
