"""Which numbers may be compared: a run's device type and precision ("numerics").

A run on CUDA computes its forward pass in bf16 with other kernels than a CPU run in fp32,
so the two give different numbers for the same run key. The run key leaves them out (the
device is only known once an executor has placed the run, while the key must be known
before, to decide what to reuse), so every record states them in ``env`` ("device",
"precision") and the driver refuses, before it trains or reuses anything, to put runs of
other numerics into a suite of a store that already holds some: a leaderboard or
comparison of that suite then never mixes them silently (docs/scaling.md, GPU).
"""

from __future__ import annotations

import json
from collections import Counter

from regbench.registry import UserError
from regbench.store import FINAL_STATUSES, Store


class MixedNumericsError(UserError):
    """A store's suite holds runs of another device type or precision than this invocation's."""


def numerics(device_type: str) -> str:
    """``cpu/fp32`` or ``cuda/bf16``: what a run on ``device_type`` computes in (train/execution.py)."""
    return f"{device_type}/{'bf16' if device_type == 'cuda' else 'fp32'}"


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
