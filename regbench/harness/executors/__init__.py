"""Executors: where runs execute, each yielding :class:`~regbench.store.RunRecord` s as they finish.

``local`` (a pool of worker processes on this machine), ``ray`` and ``slurm`` (submitit). The
driver (:func:`regbench.harness.run_plan.run_plan`) is the only writer of the store, so a
worker that dies loses only its own run in flight. Executors may import the harness's
``run_one`` and the store's types; nothing below the harness imports them.
"""

from __future__ import annotations

from typing import Any

from regbench.harness.executors.base import EXECUTOR_ONLY, EXECUTORS, ExecutorError
from regbench.harness.executors.local import LocalExecutor
from regbench.registry import UnknownNameError

__all__ = ["EXECUTORS", "ExecutorError", "LocalExecutor", "get_executor"]


def get_executor(name: str, **kwargs: Any):
    """An executor by name: ``local`` (default), ``ray``, ``slurm``.

    Options meant for another executor (e.g. ``address`` for ``local``) raise
    :class:`ExecutorError` rather than being silently ignored.
    """
    for key, names in EXECUTOR_ONLY.items():
        if kwargs.get(key) is not None and name not in names:
            flag = "--" + key.replace("_", "-")
            raise ExecutorError(f"{flag} applies to --executor {' or '.join(names)}, not '{name}'")
    workers = kwargs.get("workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ExecutorError(f"workers must be an integer >= 1 (or None: one per core), got {workers!r}")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if name == "local":
        return LocalExecutor(
            workers=kwargs.get("workers"),
            device=kwargs.get("device", "cpu"),
            options=kwargs.get("options"),
            run_timeout=kwargs.get("run_timeout"),
        )
    if name == "ray":  # imported on demand: ray and submitit take seconds to import and are optional
        from regbench.harness.executors.ray import RayExecutor

        return RayExecutor(**kwargs)
    if name == "slurm":
        from regbench.harness.executors.slurm import SlurmExecutor

        return SlurmExecutor(**kwargs)
    raise UnknownNameError("executor", name, list(EXECUTORS))
