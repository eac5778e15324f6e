"""What every executor shares: the names, the options only some take, and the error."""

from __future__ import annotations

from regbench.registry import UserError

EXECUTORS = ("local", "ray", "slurm")
# options that only some executors understand (CLI flag → executors that take it)
EXECUTOR_ONLY = {
    "address": ("ray",),
    "gpus_per_run": ("ray", "slurm"),
    "partition": ("slurm",),
    "time": ("slurm",),  # Slurm's own per-job limit
    "run_timeout": ("local",),
}


class ExecutorError(UserError, RuntimeError):
    """An executor cannot start: its package is missing or its options do not fit it."""
