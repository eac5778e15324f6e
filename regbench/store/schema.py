"""The store's tables, its schema version, and opening a store file (docs/architecture.md, Store).

Opening checks before it writes: the schema version is read first (``PRAGMA user_version``
and ``meta.schema_version``), so a foreign SQLite file or one from a newer regbench is
refused untouched. :class:`StoreFile` holds the open connection that every part of the
``Store`` (leases, writes, reads) shares.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from regbench.store.integrity import StoreError, store_error

SCHEMA_VERSION = 3  # 2: reliability bins packed as float64 arrays; 3: per-image cluster ids beside the targets
MIGRATABLE = (2,)  # older versions this one opens: read as they are, upgraded in place when opened for writing
DEFAULT_STORE = "results/regbench.sqlite"
# a "failed" run is retried by the next invocation; diverged and collapsed runs are results
FINAL_STATUSES = ("ok", "diverged", "collapsed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_key TEXT PRIMARY KEY, suite TEXT, benchmark TEXT, shift_kind TEXT, regularizer TEXT,
    regularizer_kind TEXT, params TEXT, seed INTEGER, status TEXT, error TEXT, spec TEXT,
    curves TEXT, timings TEXT, env TEXT, fingerprint TEXT, submission INTEGER DEFAULT 0,
    created_at REAL
);
CREATE TABLE IF NOT EXISTS metrics (
    run_key TEXT, split TEXT, family TEXT, shift TEXT, severity REAL, metric TEXT,
    value REAL, n INTEGER
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_key);
CREATE TABLE IF NOT EXISTS reliability (
    run_key TEXT, split TEXT, confidence BLOB, accuracy BLOB, count BLOB  -- float64 arrays, one per bin
);
CREATE INDEX IF NOT EXISTS reliability_run ON reliability(run_key);
CREATE TABLE IF NOT EXISTS predictions (run_key TEXT, split TEXT, labels BLOB, PRIMARY KEY (run_key, split));
CREATE TABLE IF NOT EXISTS targets (  -- per data fingerprint: true test labels and each image's cluster id
    fingerprint TEXT, split TEXT, labels BLOB, clusters BLOB, PRIMARY KEY (fingerprint, split)
);
CREATE TABLE IF NOT EXISTS leases (  -- a run being trained by a live process (docs/architecture.md, Store)
    run_key TEXT PRIMARY KEY, pid INTEGER, host TEXT, started REAL, heartbeat REAL, token TEXT
);
CREATE TABLE IF NOT EXISTS suite_runs (
    suite TEXT, run_key TEXT, benchmark TEXT, regularizer TEXT, seed INTEGER,
    PRIMARY KEY (suite, benchmark, regularizer, seed)
);
"""


class StoreFile:
    """An open store at ``path``: its connection ``db`` and :meth:`transaction`.

    ``readonly=True`` (export, leaderboard, diagnose) opens with ``mode=ro``: it never
    creates a file and works in a read-only folder.
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        try:
            self.db = self._open_readonly() if readonly else self._open_for_writing()
        except sqlite3.DatabaseError as err:
            raise store_error(self.path, err) from None

    def _open_for_writing(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"{self.path}: cannot create its folder ({err.strerror})") from None
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise StoreError(
                f"{self.path}: the store is read-only here; runs cannot be recorded (pass another --store)"
            )
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        version = read_schema_version(db, self.path)  # reads only: a refused file stays untouched
        db.executescript(_SCHEMA)  # CREATE … IF NOT EXISTS: adds only tables this version added
        if version is None:  # an empty file: a new store
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif version < SCHEMA_VERSION:
            _migrate(db, version)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("PRAGMA journal_mode=WAL")  # a leaderboard reads while a sweep writes
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _open_readonly(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StoreError(
                f"{self.path}: no store there (a read-only command creates none); "
                f"record runs first with `regbench run SUITE --store {self.path}`"
            )
        uri = "file:" + quote(str(self.path.resolve()))
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60, isolation_level=None)
        try:
            version = read_schema_version(db, self.path)
        except sqlite3.OperationalError:
            # a WAL store in a folder we cannot write: SQLite cannot create its -shm file. With
            # no pending -wal content the main file is complete, and immutable=1 reads it as is.
            wal = Path(f"{self.path}-wal")
            if os.access(self.path.parent, os.W_OK) or (wal.exists() and wal.stat().st_size > 0):
                raise
            db.close()
            db = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)
            version = read_schema_version(db, self.path)
        if version is None:
            raise StoreError(f"{self.path}: an empty file, not a regbench store yet (no runs recorded)")
        return db

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The block's statements as one transaction (``BEGIN IMMEDIATE``: the write lock is taken
        up front), rolled back when the block raises, Ctrl-C included."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            # SQLite has already rolled back after some errors (SQLITE_FULL: a full disk); a
            # second ROLLBACK would then fail and hide the real cause behind "no transaction"
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")


def _migrate(db: sqlite3.Connection, version: int) -> None:
    """Upgrade a store of an older schema ``version`` in place, in one transaction.

    2 → 3: ``targets`` gains ``clusters`` (NULL for targets recorded before: every image is then
    its own cluster, which is what those splits were).
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        if version < 3 and not has_column(db, "targets", "clusters"):
            db.execute("ALTER TABLE targets ADD COLUMN clusters BLOB")
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def has_column(db: sqlite3.Connection, table: str, column: str) -> bool:
    """Whether ``table`` has ``column`` (a read-only store of an older schema may lack it)."""
    return any(row[1] == column for row in db.execute(f"PRAGMA table_info({table})"))


def read_schema_version(db: sqlite3.Connection, path: Path) -> int | None:
    """The store's schema version, read without writing anything; None for an empty database.

    Raises :class:`StoreError` for a foreign SQLite file (tables, but no regbench ``meta``),
    a version that is not a number, or a version other than :data:`SCHEMA_VERSION` and the older
    ones it can upgrade (:data:`MIGRATABLE`).
    """
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    user_version = db.execute("PRAGMA user_version").fetchone()[0]
    if not tables and user_version == 0:
        return None
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() if "meta" in tables else None
    if row is None or "runs" not in tables:
        shown = ", ".join(sorted(tables)[:5]) or "none"
        raise StoreError(
            f"{path}: not a regbench store (an SQLite file with tables: {shown}); refusing to touch it, "
            "pass another --store"
        )
    try:
        version = int(row[0])
    except ValueError:
        raise StoreError(f"{path}: schema version {row[0]!r} is not a number; not a store regbench wrote") from None
    if max(version, user_version) > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: schema version {max(version, user_version)} is newer than this regbench reads "
            f"({SCHEMA_VERSION}); upgrade regbench to read it (the file was left untouched)"
        )
    if user_version not in (0, version):  # 0: written before regbench set user_version
        raise StoreError(f"{path}: schema version {version} but user_version {user_version}; not a regbench store")
    if version != SCHEMA_VERSION and version not in MIGRATABLE:
        raise StoreError(f"{path}: schema version {version}, this regbench reads {SCHEMA_VERSION}")
    return version
