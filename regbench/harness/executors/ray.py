"""The Ray executor: every run is a Ray task; the driver writes records as they arrive.

``regbench run SUITE --executor ray [--address auto|HOST:PORT] [--gpus-per-run 0.25]``.
Without an address a private local Ray instance is started (no dashboard, no usage
statistics) and shut down afterwards. Each task asks for ``cpus_per_run`` CPUs and
``gpus_per_run`` GPUs (default 1 with ``--device cuda``, or ``auto`` on a cluster with GPUs)
— a fraction lets several small runs share one GPU, Ray setting ``CUDA_VISIBLE_DEVICES`` for each. A task whose worker process dies (killed, out of memory,
node lost) is retried up to ``max_retries`` times; with in-run checkpoints on shared
storage the retry resumes where the dead worker left off. A run's own exception is not
retried: ``run_one`` records it as ``failed``.
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


def _run_task(spec: RunSpec, device: str, options: ExecOptions | None) -> RunRecord:
    """Body of one Ray task (module-level, so workers import it rather than unpickle code).

    The run's thread count comes with its options (``run_one`` applies it). Ray reuses
    worker processes: the first task in each sets the CUDA environment before any CUDA use."""
    prepare_process()
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
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.environ.get("PYTHONPATH", "")
        runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in (root, path) if p)}}
        common = dict(logging_level="ERROR", log_to_driver=False, runtime_env=runtime_env)
        if self.address:
            ray.init(address=self.address, **common)
        else:
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
        task = ray.remote(_run_task).options(
            num_cpus=self.cpus_per_run,
            num_gpus=self.gpus_per_run,
            max_retries=self.max_retries,
            retry_exceptions=False,
        )
        pending = list(reversed(specs))
        in_flight: dict[Any, RunSpec] = {}
        try:
            slots = self._slots()
            with RunProgress(len(specs), enabled=progress) as bar:
                # at most `slots` tasks in flight, so the bar names the runs actually running
                while pending or in_flight:
                    while pending and len(in_flight) < slots:
                        spec = pending.pop()
                        in_flight[task.remote(spec, self.device, self.options)] = spec
                        bar.started(spec.name)
                    ready, _ = ray.wait(list(in_flight), num_returns=1)
                    for ref in ready:
                        spec = in_flight.pop(ref)
                        rec = self._result(ref, spec)
                        bar.finished(spec.name, rec.status)
                        yield rec
        finally:
            for ref in in_flight:  # Ctrl-C or an error in the driver: stop what still runs
                ray.cancel(ref, force=True)
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
