"""Recording runs: a run's record, metric rows, reliability bins and predictions in one transaction.

A crash, Ctrl-C or a killed worker therefore loses at most the runs in flight
(docs/architecture.md, Store). Results are append-only: a finished run is never overwritten.
"""

from __future__ import annotations

import json
import sqlite3
import time
from array import array
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from regbench.store.schema import FINAL_STATUSES, StoreFile


@dataclass
class RunRecord:
    """Everything one run produced. ``metrics`` are tidy rows (docs/architecture.md, Conventions: Tidy records)."""

    run_key: str
    suite: str
    benchmark: str
    shift_kind: str
    regularizer: str
    regularizer_kind: str
    params: Any
    seed: int
    status: str  # ok | failed | diverged | collapsed
    error: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    reliability: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    predictions: dict[str, bytes] = field(default_factory=dict)
    targets: dict[str, bytes] = field(default_factory=dict)  # true test labels, kept once per fingerprint
    clusters: dict[str, bytes] = field(default_factory=dict)  # per test split: each image's cluster id (int32)
    curves: dict[str, list[float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None
    submission: bool = False
    created_at: float = field(default_factory=time.time)


def pack_floats(values: list[float]) -> bytes:
    """A list of floats as float64 bytes (one reliability bin per element)."""
    return array("d", values).tobytes()


def record_to_json(rec: RunRecord) -> dict[str, Any]:
    """A JSON-able dict of a record (predictions dropped)."""
    d = asdict(rec)
    d.pop("predictions", None)
    d.pop("clusters", None)
    return d


def _blob(data: bytes | None):
    return None if data is None else sqlite3.Binary(data)


class StoreWrites(StoreFile):
    """The writing methods of :class:`~regbench.store.Store`."""

    def put(self, rec: RunRecord) -> None:
        """Write one run (replacing an earlier failed attempt of the same key) atomically; the
        run's lease, if any, ends in the same transaction."""
        with self.transaction() as db:
            db.execute("DELETE FROM leases WHERE run_key=?", (rec.run_key,))
            old = db.execute("SELECT status FROM runs WHERE run_key=?", (rec.run_key,)).fetchone()
            if old is not None and old[0] in FINAL_STATUSES:
                return  # a finished run is never overwritten (append-only results)
            for table in ("runs", "metrics", "reliability", "predictions"):
                db.execute(f"DELETE FROM {table} WHERE run_key=?", (rec.run_key,))
            db.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rec.run_key,
                    rec.suite,
                    rec.benchmark,
                    rec.shift_kind,
                    rec.regularizer,
                    rec.regularizer_kind,
                    json.dumps(rec.params, sort_keys=True),
                    rec.seed,
                    rec.status,
                    rec.error,
                    json.dumps(rec.spec, sort_keys=True),
                    json.dumps(rec.curves),
                    json.dumps(rec.timings),
                    json.dumps(rec.env, sort_keys=True),
                    rec.fingerprint,
                    int(rec.submission),
                    rec.created_at,
                ),
            )
            db.executemany(
                "INSERT INTO metrics VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        rec.run_key,
                        m["split"],
                        m.get("family"),
                        m.get("shift"),
                        m.get("severity"),
                        m["metric"],
                        m["value"],
                        m.get("n"),
                    )
                    for m in rec.metrics
                ],
            )
            db.executemany(
                "INSERT INTO reliability VALUES (?,?,?,?,?)",
                [
                    (rec.run_key, split, *(pack_floats(r[k]) for k in ("confidence", "accuracy", "count")))
                    for split, r in rec.reliability.items()
                ],
            )
            db.executemany(
                "INSERT INTO predictions VALUES (?,?,?)",
                [(rec.run_key, s, sqlite3.Binary(b)) for s, b in rec.predictions.items()],
            )
            # test labels and cluster ids depend only on the data (fingerprint): runs share one copy
            db.executemany(
                "INSERT OR IGNORE INTO targets (fingerprint, split, labels, clusters) VALUES (?,?,?,?)",
                [(rec.fingerprint, s, sqlite3.Binary(b), _blob(rec.clusters.get(s))) for s, b in rec.targets.items()],
            )
            # targets written before cluster ids were recorded (a migrated store) get them now
            db.executemany(
                "UPDATE targets SET clusters=? WHERE fingerprint=? AND split=? AND clusters IS NULL",
                [(sqlite3.Binary(b), rec.fingerprint, s) for s, b in rec.clusters.items()],
            )

    def add_to_suite(self, suite: str, entries: Iterable[tuple[str, str, str, int]]) -> None:
        """Record that ``suite`` consists of (run_key, benchmark, regularizer, seed) entries."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO suite_runs VALUES (?,?,?,?,?)",
                [(suite, k, b, r, s) for k, b, r, s in entries],
            )

    def remove_runs(self, keys: Iterable[str]) -> int:
        """Delete runs ``keys`` with their metrics, bins, predictions, suite memberships and
        leases, in one transaction; returns how many runs were deleted."""
        rows = [(k,) for k in dict.fromkeys(keys)]
        with self.transaction() as db:
            before = db.total_changes
            db.executemany("DELETE FROM runs WHERE run_key=?", rows)
            removed = db.total_changes - before
            for table in ("metrics", "reliability", "predictions", "suite_runs", "leases"):
                db.executemany(f"DELETE FROM {table} WHERE run_key=?", rows)
        return removed

    def mark_submission(self, keys: Iterable[str]) -> None:
        """Flag runs as a submission (a new regularizer compared against the baselines)."""
        with self.transaction() as db:
            db.executemany("UPDATE runs SET submission=1 WHERE run_key=?", [(k,) for k in keys])
