"""Which numbers may be compared: a run's device type and precision ("numerics").

A run on CUDA computes its forward pass in bf16 with other kernels than a CPU run in fp32,
so the two give different numbers; so does another intra-op thread count. All three are part
of the run key (:class:`~regbench.harness.plan.Numerics`), fixed when the run is planned from
the device the executor will place it on (:func:`bind_numerics`), so a CUDA run is never
reused for a CPU one. Every record also states them in ``env`` ("device", "precision",
"threads"), and the driver refuses, before it trains or reuses anything, to put runs of other
numerics into a suite of a store that already holds some (e.g. records made before the key
covered them): a leaderboard or comparison of that suite then never mixes them silently
(docs/scaling.md, GPU).
"""

from __future__ import annotations

import json
from collections import Counter

from regbench.harness.plan import Numerics, Plan
from regbench.registry import UserError
from regbench.store import FINAL_STATUSES, Store


class MixedNumericsError(UserError):
    """A store's suite holds runs of another device type or precision than this invocation's."""


def numerics(device_type: str) -> str:
    """``cpu/fp32`` or ``cuda/bf16``: what a run on ``device_type`` computes in (train/execution.py)."""
    n = numerics_for(device_type, 1)
    return f"{n.device}/{n.precision}"


def device_type_for(device: str, executor: str = "local") -> str:
    """``cuda`` or ``cpu``: where ``executor`` will run a run asked for on ``device``, known
    before the executor starts (the same answer as its ``device_type()``, which
    :func:`regbench.harness.run_plan.run_plan` checks). Locally ``auto`` means CUDA when this
    machine has it; a remote worker's ``auto`` is not known here, so Ray and Slurm use CUDA
    only when asked for by name."""
    if executor == "local":
        from regbench.harness.executors.local import on_cuda

        return "cuda" if device.startswith("cuda") or on_cuda(device) else "cpu"
    return "cuda" if device.startswith("cuda") else "cpu"


def numerics_for(device_type: str, threads: int) -> Numerics:
    """The run-key numerics of a run on ``device_type`` with ``threads`` intra-op threads."""
    import torch

    from regbench.train.execution import precision

    return Numerics(device_type, precision(torch.device(device_type)), threads)


def bind_numerics(
    plan: Plan,
    device: str = "cpu",
    executor: str = "local",
    deterministic: bool = False,
    threads: int | None = None,
    **_other_run_args,
) -> Plan:
    """``plan`` with the numerics that :func:`~regbench.harness.run_plan.run_plan` called with
    the same arguments gives its runs (so a caller knows their run keys before training: what
    to reuse, which records to read back). Takes ``run_plan``'s keyword arguments; those that do
    not change the numbers (workers, progress, ...) are ignored. ``threads`` is resolved as
    the executor resolves it (None: the default; ``deterministic`` pins it)."""
    from regbench.train.execution import exec_options

    resolved = exec_options(deterministic=deterministic, threads=threads).threads
    return plan.with_numerics(numerics_for(device_type_for(device, executor), resolved))


def record_numerics(env: dict) -> str:
    """The numerics a stored record was computed in, from its ``env``."""
    device_type = str(env.get("device", "cpu")).split(":")[0]
    return f"{device_type}/{env['precision']}" if "precision" in env else numerics(device_type)


def stored_numerics(store: Store, suite: str, keys: set[str]) -> Counter:
    """numerics → number of finished runs, among ``keys`` and the suite's runs already in ``store``."""
    members = {k for (k,) in store.db.execute("SELECT run_key FROM suite_runs WHERE suite=?", (suite,))}
    wanted = sorted(keys | members)
    found: Counter = Counter()
    for i in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
        chunk = wanted[i : i + 500]
        rows = store.db.execute(
            f"SELECT status, env FROM runs WHERE run_key IN ({','.join('?' * len(chunk))})", chunk
        ).fetchall()
        found.update(record_numerics(json.loads(env or "{}")) for status, env in rows if status in FINAL_STATUSES)
    return found


def check_numerics(store: Store, suite: str, keys: set[str], device_type: str) -> str:
    """This invocation's numerics; :class:`MixedNumericsError` when the store's runs of ``suite``
    (or of ``keys``, which would be reused) were computed in others."""
    mine = numerics(device_type)
    others = {n: c for n, c in stored_numerics(store, suite, keys).items() if n != mine}
    if others:
        theirs = ", ".join(f"{c} on {n}" for n, c in sorted(others.items()))
        other_device = sorted(others)[0].split("/")[0]
        raise MixedNumericsError(
            f"suite '{suite}' in {store.path} holds runs computed {theirs}; this invocation computes on {mine}, "
            f"and the two are not comparable: use another --store, or --device {other_device}"
        )
    return mine
