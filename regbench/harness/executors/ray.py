"""The Ray executor: runs go to long-lived Ray actors, one per slot; the driver writes records as they arrive.

``regbench run SUITE --executor ray [--address auto|HOST:PORT] [--gpus-per-run 0.25]``.
Without an address a private local Ray instance is started (no dashboard, no usage
statistics) and shut down afterwards; its workers inherit this process's environment, so no
runtime environment (and no runtime-env agent round trip) is set up for them. Each slot is
one actor that imports torch and regbench once and then trains run after run, so a run's
cost is one method call. Each actor asks for ``cpus_per_run`` CPUs and
``gpus_per_run`` GPUs (default 1 with ``--device cuda``, or ``auto`` on a cluster with GPUs)
— a fraction lets several small runs share one GPU, Ray setting ``CUDA_VISIBLE_DEVICES`` for
each. An actor whose process dies (killed, out of memory, node lost) is restarted and its run
retried up to ``max_retries`` times; with in-run checkpoints on shared storage the retry
resumes where the dead worker left off. A run's own exception is not retried: ``run_one``
records it as ``failed``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from regbench.harness.executors.base import ExecutorError
from regbench.harness.plan import RunSpec
from regbench.harness.progress import RunProgress
from regbench.harness.run_one import record, run_one
from regbench.store import RunRecord
from regbench.train.execution import ExecOptions, prepare_process

# quiet, offline-friendly defaults; a user's own settings win (setdefault)
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage report (and no prompt about it)
    "RAY_DEDUP_LOGS": "0",
    "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",  # keep CUDA_VISIBLE_DEVICES of 0-GPU tasks as is
    "RAY_AUTH_MODE": "disabled",  # a private local instance needs no token
}


def import_ray():
    """``ray``, or :class:`ExecutorError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ExecutorError("--executor ray needs Ray, which is not installed: pip install -e '.[ray]'") from None
    return ray


class RunWorker:
    """One slot's long-lived worker (a Ray actor): set up once, then ``run`` after ``run``.

    Defined at module level, so Ray workers import it rather than unpickle code. ``__init__``
    prepares the process (the CUDA environment, before any CUDA use) and imports torch and
    regbench once — at actor creation, while the driver is still planning the first runs.
    The run's thread count comes with its options (``run_one`` applies it)."""

    def __init__(self) -> None:
        prepare_process()

    def run(self, spec: RunSpec, device: str, options: ExecOptions | None) -> RunRecord:
        return run_one(spec, device, options)


def ray_placement(device: str, gpus_per_run: float | None, cluster_gpus: float) -> tuple[str, float]:
    """(device each task uses, GPUs each task asks Ray for).

    ``auto`` means the cluster's GPUs when it has any, like ``cuda``: a task that uses a GPU
    must ask Ray for it, or Ray does not count it and every task lands on the same GPU.
    A task asking for a GPU (``--gpus-per-run``, default 1) sees only its own, as ``cuda``.
    """
    if device == "auto":
        device = "cuda" if cluster_gpus > 0 else "cpu"
    if not device.startswith("cuda"):
        return device, gpus_per_run or 0.0
    if cluster_gpus <= 0:
        raise ExecutorError(f"--device {device} with --executor ray, but the Ray cluster has no GPU")
    return device, 1.0 if gpus_per_run is None else gpus_per_run


class RayExecutor:
    """Runs on a Ray cluster (``address``) or a private local instance of ``workers`` CPUs."""

    def __init__(
        self,
        workers: int | None = None,
        device: str = "cpu",
        options: ExecOptions | None = None,
        address: str | None = None,
        gpus_per_run: float | None = None,
        cpus_per_run: int = 1,
        max_retries: int = 3,
        **_: Any,
    ):
        if (gpus_per_run is not None and gpus_per_run < 0) or cpus_per_run < 1:
            raise ExecutorError("--gpus-per-run must be >= 0 and cpus_per_run >= 1")
        if device.startswith("cuda") and gpus_per_run == 0:
            raise ExecutorError(f"--device {device} with --executor ray needs --gpus-per-run > 0 (e.g. 0.25)")
        self.ray = import_ray()
        self.workers, self.device, self.options = workers, device, options
        self.address, self.gpus_per_run, self.cpus_per_run = address, gpus_per_run, cpus_per_run
        self.max_retries = max_retries
        self._started: bool | None = None  # None: not connected yet; True: this executor started Ray

    def _start(self) -> bool:
        """Connect to (or start) Ray; True when this executor started it and must shut it down."""
        ray = self.ray
        if ray.is_initialized():
            return False
        for k, v in RAY_ENV.items():
            os.environ.setdefault(k, v)
        # workers start from this environment: make sure they import this regbench
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        path = os.environ.get("PYTHONPATH", "")
        pythonpath = os.pathsep.join(p for p in (root, path) if p)
        common = dict(logging_level="ERROR", log_to_driver=False)
        if self.address:  # a cluster's workers need it sent along
            ray.init(address=self.address, runtime_env={"env_vars": {"PYTHONPATH": pythonpath}}, **common)
        else:
            # a private instance's workers inherit this environment: a runtime_env would cost
            # an agent round trip before the first worker starts
            os.environ["PYTHONPATH"] = pythonpath
            ray.init(num_cpus=self.workers or os.cpu_count() or 1, include_dashboard=False, **common)
        return True

    def _slots(self) -> int:
        """Runs that fit at once, from the cluster's resources (at least one)."""
        res = self.ray.cluster_resources()
        n = int(res.get("CPU", 1) // self.cpus_per_run)
        if self.gpus_per_run > 0:
            n = min(n, int(res.get("GPU", 0) / self.gpus_per_run))
        return max(1, n)

    def _connect(self) -> None:
        """Connect to (or start) Ray once and place runs on its GPUs or CPUs (:func:`ray_placement`)."""
        if self._started is not None:
            return
        self._started = self._start()
        try:
            self.device, self.gpus_per_run = ray_placement(
                self.device, self.gpus_per_run, self.ray.cluster_resources().get("GPU", 0)
            )
        except ExecutorError:
            self.close()
            raise

    def close(self) -> None:
        """Shut down the Ray instance this executor started (no-op otherwise)."""
        if self._started:
            self.ray.shutdown()
        self._started = None

    def device_type(self) -> str:
        """``cuda`` or ``cpu``: where this executor's runs will compute (connects to Ray)."""
        self._connect()
        return "cuda" if self.device.startswith("cuda") else "cpu"

    def run(self, specs: list[RunSpec], progress: bool = True) -> Iterator[RunRecord]:
        ray = self.ray
        self._connect()
        actor = ray.remote(RunWorker).options(
            num_cpus=self.cpus_per_run,
            num_gpus=self.gpus_per_run,
            max_restarts=self.max_retries,  # a dead actor is restarted ...
            max_task_retries=self.max_retries,  # ... and its run retried on it (not a run's own exception)
        )
        pending = list(reversed(specs))
        in_flight: dict[Any, tuple[RunSpec, Any]] = {}
        workers: list[Any] = []
        try:
            # at most `slots` runs in flight, so the bar names the runs actually running
            workers = [actor.remote() for _ in range(min(self._slots(), len(specs)))]
            idle = list(workers)
            with RunProgress(len(specs), enabled=progress) as bar:
                while pending or in_flight:
                    while pending and idle:
                        spec, worker = pending.pop(), idle.pop()
                        in_flight[worker.run.remote(spec, self.device, self.options)] = (spec, worker)
                        bar.started(spec.name)
                    ready, _ = ray.wait(list(in_flight), num_returns=1)
                    for ref in ready:
                        spec, worker = in_flight.pop(ref)
                        rec = self._result(ref, spec)
                        idle.append(worker)
                        bar.finished(spec.name, rec.status)
                        yield rec
        finally:
            # done, Ctrl-C or an error in the driver: stop what still runs and free the slots
            # (on a cluster the actors would otherwise hold their CPUs and GPUs)
            for worker in workers:
                ray.kill(worker, no_restart=True)
            self.close()

    def _result(self, ref, spec: RunSpec) -> RunRecord:
        try:
            return self.ray.get(ref)
        except Exception as err:  # the worker died more than max_retries times, or Ray failed
            why = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            return record(
                spec,
                "failed",
                error=f"ray task failed after {self.max_retries} retries "
                f"({type(err).__name__}: {why}); it will be retried by the next invocation",
            )
