"""The results store: one SQLite file, one row per run, each run one transaction (docs/architecture.md, Store).

WAL mode lets a leaderboard read while a sweep writes. A run's record, its tidy metric rows,
its reliability bins and its predictions are committed together, so a crash, Ctrl-C or a
killed worker loses at most the runs in flight. This package imports no torch: the report
reads records through it.

One module per job: ``schema`` (tables, schema version, opening a file), ``leases`` (run
leases, heartbeat, reclaim), ``writes`` (recording runs), ``reads`` (statuses, records,
frames) and ``integrity`` (the store's errors and recovery advice). :class:`Store` joins them.
"""

from __future__ import annotations

from regbench.store.integrity import StoreError, is_store_error, store_error
from regbench.store.leases import HEARTBEAT_S, LEASE_TIMEOUT_S, Claim, Lease, StoreLeases, holder_alive
from regbench.store.reads import ImageOutcome, StoreReads, unpack_reliability
from regbench.store.schema import DEFAULT_STORE, FINAL_STATUSES, SCHEMA_VERSION, read_schema_version
from regbench.store.writes import RunRecord, StoreWrites, pack_floats, record_to_json

__all__ = [
    "DEFAULT_STORE",
    "FINAL_STATUSES",
    "HEARTBEAT_S",
    "LEASE_TIMEOUT_S",
    "SCHEMA_VERSION",
    "Claim",
    "ImageOutcome",
    "Lease",
    "RunRecord",
    "Store",
    "StoreError",
    "holder_alive",
    "is_store_error",
    "pack_floats",
    "read_schema_version",
    "record_to_json",
    "store_error",
    "unpack_reliability",
]


class Store(StoreLeases, StoreWrites, StoreReads):
    """A regbench results store at ``path``.

    Opening checks before it writes (docs/architecture.md, Store): the schema version is read
    first (``PRAGMA user_version`` and ``meta.schema_version``), so a foreign SQLite file or
    one from a newer regbench is refused untouched. ``readonly=True`` (export, leaderboard,
    diagnose) opens with ``mode=ro``: it never creates a file and works in a read-only folder.

    Each job's methods live in its module, on a class sharing the one open connection of
    :class:`~regbench.store.schema.StoreFile`: ``claim``/``release``/``leases``/``heartbeat``
    (leases), ``put``/``add_to_suite``/``remove_runs``/``mark_submission`` (writes), and
    ``statuses``/``done_keys``/``count``/``suites``/``records``/``predictions``/
    ``predictions_frame``/``outcomes``/``frames`` (reads).
    """
