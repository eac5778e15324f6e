"""The Slurm executor, through submitit: one array job per batch of runs.

``regbench run SUITE --executor slurm --partition P --gpus-per-run 1 --time 60``.
Each array task runs one run and returns its record; the driver polls the jobs and writes
each record into the store as its job finishes (the driver stays the only store writer).
Preemption and time-outs: submitit signals the job, calls :meth:`RunJob.checkpoint`, which
re-submits the same callable; the requeued job resumes from the run's in-run checkpoint
(``--checkpoint-every``, on storage the nodes share — by default next to the store).
Logs and pickles go to ``<store folder>/submitit/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from time import sleep
from typing import Any

from regbench.harness.executors.base import ExecutorError
from regbench.harness.plan import RunSpec
from regbench.harness.progress import RunProgress
from regbench.harness.run_one import record, run_one
from regbench.store import RunRecord
from regbench.train.execution import ExecOptions, prepare_process


def import_submitit():
    """``submitit``, or :class:`ExecutorError` saying how to install it."""
    try:
        import submitit
    except ImportError:
        raise ExecutorError(
            "--executor slurm needs submitit, which is not installed: pip install -e '.[slurm]'"
        ) from None
    return submitit


class RunJob:
    """The callable each array task runs: ``RunJob(...)(spec) -> RunRecord``.

    ``checkpoint`` is submitit's preemption hook: it returns a delayed re-submission of this
    same call. Nothing needs saving here — the training loop's own checkpoint file is the
    state the requeued job picks up.
    """

    def __init__(self, device: str, options: ExecOptions | None):
        self.device, self.options = device, options

    def __call__(self, spec: RunSpec) -> RunRecord:
        prepare_process()  # before the job's first CUDA use
        return run_one(spec, self.device, self.options)  # it applies the options' thread count

    def checkpoint(self, spec: RunSpec):
        import submitit

        return submitit.helpers.DelayedSubmission(self, spec)


class SlurmExecutor:
    """Submits runs as Slurm array jobs (``cluster="local"`` runs them as local processes, for tests)."""

    def __init__(
        self,
        workers: int | None = None,
        device: str = "cpu",
        options: ExecOptions | None = None,
        partition: str | None = None,
        gpus_per_run: float = 0.0,
        time: int = 60,
        cpus_per_run: int = 1,
        work_dir: str = ".",
        cluster: str = "slurm",
        batch_size: int = 1000,
        poll_seconds: float = 2.0,
        **_: Any,
    ):
        self.submitit = import_submitit()
        if gpus_per_run != int(gpus_per_run) or gpus_per_run < 0:
            raise ExecutorError(f"--gpus-per-run must be a whole number for Slurm, got {gpus_per_run}")
        if cluster == "slurm" and self.submitit.SlurmExecutor.affinity() < 0:
            raise ExecutorError("--executor slurm: no Slurm here (sbatch not found); run it on a cluster login node")
        if device.startswith("cuda") and gpus_per_run == 0:
            raise ExecutorError(f"--device {device} with --executor slurm needs --gpus-per-run >= 1")
        if device == "auto":  # a job sees the GPUs it asked for, or none
            device = "cuda" if gpus_per_run > 0 else "cpu"
        self.workers, self.device, self.options = workers, device, options
        self.partition, self.gpus, self.time, self.cpus = partition, int(gpus_per_run), time, cpus_per_run
        self.folder = Path(work_dir) / "submitit"
        self.cluster, self.batch_size, self.poll = cluster, batch_size, poll_seconds

    def device_type(self) -> str:
        """``cuda`` or ``cpu``: where this executor's runs will compute."""
        return "cuda" if self.device.startswith("cuda") else "cpu"

    def _executor(self):
        ex = self.submitit.AutoExecutor(folder=str(self.folder / "%j"), cluster=self.cluster)
        params: dict[str, Any] = {"timeout_min": self.time, "cpus_per_task": self.cpus, "name": "regbench"}
        if self.gpus:
            params["gpus_per_node"] = self.gpus
        if self.cluster == "slurm":
            params["slurm_array_parallelism"] = self.workers or 64
            if self.partition:
                params["slurm_partition"] = self.partition
        ex.update_parameters(**params)
        return ex

    def run(self, specs: list[RunSpec], progress: bool = True) -> Iterator[RunRecord]:
        ex, fn = self._executor(), RunJob(self.device, self.options)
        jobs: list[tuple[Any, RunSpec]] = []
        for i in range(0, len(specs), self.batch_size):
            batch = specs[i : i + self.batch_size]
            jobs += list(zip(ex.map_array(fn, batch), batch))  # one array job per batch
        try:
            with RunProgress(len(specs), enabled=progress) as bar:
                for _, spec in jobs:
                    bar.started(spec.name)
                while jobs:
                    still = []
                    for job, spec in jobs:
                        if not job.done():
                            still.append((job, spec))
                            continue
                        rec = self._result(job, spec)
                        bar.finished(spec.name, rec.status)
                        yield rec
                    jobs = still
                    if jobs:
                        sleep(self.poll)
        finally:
            for job, _ in jobs:  # Ctrl-C or an error in the driver: do not leave jobs behind
                job.cancel(check=False)

    def _result(self, job, spec: RunSpec) -> RunRecord:
        try:
            return job.result()
        except Exception as err:  # the job itself failed (node failure, time-out without requeue, …)
            text = str(err).strip().splitlines()
            return record(
                spec,
                "failed",
                error=f"slurm job {job.job_id} failed ({type(err).__name__}: "
                f"{text[-1] if text else ''}); logs in {self.folder}; it will be retried by the "
                "next invocation",
            )
