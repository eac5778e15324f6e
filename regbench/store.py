"""The results store: one SQLite file, one row per run, each run one transaction (docs/architecture.md, Store).

WAL mode lets a leaderboard read while a sweep writes. A run's record, its tidy metric rows,
its reliability bins and its predictions are committed together, so a crash, Ctrl-C or a
killed worker loses at most the runs in flight. This module imports no torch: the report
reads records through it.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from regbench.registry import UserError

SCHEMA_VERSION = 2  # 2: reliability bins packed as float64 arrays (one row per run × split)
DEFAULT_STORE = "results/regbench.sqlite"
FINAL_STATUSES = ("ok", "diverged")  # a "failed" run is retried by the next invocation

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
CREATE TABLE IF NOT EXISTS targets (fingerprint TEXT, split TEXT, labels BLOB, PRIMARY KEY (fingerprint, split));
CREATE TABLE IF NOT EXISTS leases (  -- a run being trained by a live process (docs/architecture.md, Store)
    run_key TEXT PRIMARY KEY, pid INTEGER, host TEXT, started REAL, heartbeat REAL, token TEXT
);
CREATE TABLE IF NOT EXISTS suite_runs (
    suite TEXT, run_key TEXT, benchmark TEXT, regularizer TEXT, seed INTEGER,
    PRIMARY KEY (suite, benchmark, regularizer, seed)
);
"""


# A holder refreshes its leases every HEARTBEAT_S seconds; a lease whose heartbeat is older
# than LEASE_TIMEOUT_S (holder on another host, frozen or gone) may be reclaimed. On the same
# host a lease whose pid no longer exists is reclaimed at once (the holder was killed).
HEARTBEAT_S = 10.0
LEASE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Lease:
    """Who holds runs: this process (pid, host) and a token unique to one ``run_plan`` call."""

    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Claim:
    """What :meth:`Store.claim` found: runs now ours, held by a live process, already finished,
    and how many of ours were taken over from expired leases."""

    mine: list[str]
    elsewhere: list[str]
    finished: list[str]
    reclaimed: int


def holder_alive(pid: int, host: str, heartbeat: float, now: float, timeout: float = LEASE_TIMEOUT_S) -> bool:
    """Whether a lease's holder may still be training: a fresh heartbeat and, on this host, a live pid."""
    if now - heartbeat > timeout:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


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
    status: str  # ok | failed | diverged
    error: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    reliability: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    predictions: dict[str, bytes] = field(default_factory=dict)
    targets: dict[str, bytes] = field(default_factory=dict)  # true test labels, kept once per fingerprint
    curves: dict[str, list[float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None
    submission: bool = False
    created_at: float = field(default_factory=time.time)


class StoreError(UserError, RuntimeError):
    """The store file cannot be used (wrong schema, not a regbench store, damaged, unwritable)."""


class Store:
    """A regbench results store at ``path``.

    Opening checks before it writes (docs/architecture.md, Store): the schema version is read
    first (``PRAGMA user_version`` and ``meta.schema_version``), so a foreign SQLite file or
    one from a newer regbench is refused untouched. ``readonly=True`` (export, leaderboard,
    diagnose) opens with ``mode=ro``: it never creates a file and works in a read-only folder.
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
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- leases: one store, many processes --------------------------------------------------
    def claim(self, keys: Iterable[str], lease: Lease, timeout: float = LEASE_TIMEOUT_S) -> Claim:
        """Lease every run of ``keys`` that is neither finished nor held by a live process, in one
        transaction, so two processes never train the same run. Expired leases are taken over."""
        now = time.time()
        mine, elsewhere, finished, reclaimed = [], [], [], 0
        with self.transaction() as db:
            wanted = list(dict.fromkeys(keys))
            status = dict(db.execute("SELECT run_key, status FROM runs").fetchall()) if wanted else {}
            held = {r[0]: r[1:] for r in db.execute("SELECT run_key, pid, host, heartbeat, token FROM leases")}
            for key in wanted:
                if status.get(key) in FINAL_STATUSES:
                    finished.append(key)
                    continue
                if key in held:
                    pid, host, beat, token = held[key]
                    if token != lease.token and holder_alive(pid, host, beat, now, timeout):
                        elsewhere.append(key)
                        continue
                    reclaimed += token != lease.token
                mine.append(key)
            db.executemany(
                "INSERT OR REPLACE INTO leases VALUES (?,?,?,?,?,?)",
                [(k, lease.pid, lease.host, now, now, lease.token) for k in mine],
            )
        return Claim(mine, elsewhere, finished, reclaimed)

    def release(self, lease: Lease, keys: Iterable[str] | None = None) -> None:
        """Give up ``lease``'s runs (all of them when ``keys`` is None): another process may take them."""
        with self.transaction() as db:
            if keys is None:
                db.execute("DELETE FROM leases WHERE token=?", (lease.token,))
            else:
                db.executemany("DELETE FROM leases WHERE token=? AND run_key=?", [(lease.token, k) for k in keys])

    def leases(self) -> list[dict[str, Any]]:
        """Every current lease: run_key, pid, host, started, heartbeat, token."""
        cur = self.db.execute("SELECT * FROM leases ORDER BY started, run_key")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    @contextmanager
    def heartbeat(self, lease: Lease, every: float = HEARTBEAT_S) -> Iterator[None]:
        """Refresh ``lease``'s heartbeat from a thread (its own connection) while the block runs,
        then release whatever it still holds (an interrupted run is free for the next invocation)."""
        stop = threading.Event()

        def beat() -> None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            try:
                while not stop.wait(every):
                    try:
                        db.execute("UPDATE leases SET heartbeat=? WHERE token=?", (time.time(), lease.token))
                    except sqlite3.OperationalError:  # busy for 60 s: the next beat tries again
                        continue
            finally:
                db.close()

        thread = threading.Thread(target=beat, name="regbench-lease-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.release(lease)

    # ---- writing -------------------------------------------------------------------------
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
            # test labels depend only on the data (fingerprint), so runs share one copy
            db.executemany(
                "INSERT OR IGNORE INTO targets VALUES (?,?,?)",
                [(rec.fingerprint, s, sqlite3.Binary(b)) for s, b in rec.targets.items()],
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

    # ---- reading -------------------------------------------------------------------------
    def statuses(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """run_key → status for the given keys (all when None)."""
        rows = self.db.execute("SELECT run_key, status FROM runs").fetchall()
        if keys is None:
            return dict(rows)
        wanted = set(keys)
        return {k: s for k, s in rows if k in wanted}

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` whose runs finished (ok or diverged) and need no training."""
        return {k for k, s in self.statuses(keys).items() if s in FINAL_STATUSES}

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def suites(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT suite FROM suite_runs ORDER BY suite")]

    def records(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Full records (metrics nested as split → metric → value) for export."""
        cur = self.db.execute("SELECT * FROM runs ORDER BY created_at, run_key")
        cols = [d[0] for d in cur.description]
        runs = [dict(zip(cols, row)) for row in cur.fetchall()]
        if keys is not None:
            wanted = set(keys)
            runs = [r for r in runs if r["run_key"] in wanted]
        metrics: dict[str, dict[str, dict[str, float]]] = {}
        for key, split, metric, value in self.db.execute("SELECT run_key, split, metric, value FROM metrics"):
            metrics.setdefault(key, {}).setdefault(split, {})[metric] = value
        for r in runs:
            for col in ("params", "spec", "curves", "timings", "env"):
                r[col] = json.loads(r[col]) if r[col] else None
            r["submission"] = bool(r["submission"])
            r["metrics"] = metrics.get(r["run_key"], {})
        return runs

    def predictions(self, key: str) -> dict[str, bytes]:
        return {
            s: bytes(b) for s, b in self.db.execute("SELECT split, labels FROM predictions WHERE run_key=?", (key,))
        }

    def predictions_frame(self, keys: Iterable[str]):
        """Packed predicted labels of runs ``keys`` joined with the true test labels.

        Columns: run_key, split, labels (bytes), targets (bytes, or None when the run was
        recorded before targets were stored). Unpack with ``regbench.report.diagnostics.unpack_labels``.
        """
        import pandas as pd

        keys = tuple(keys)
        preds = self._frame("predictions", keys)
        fps = pd.read_sql_query("SELECT r.run_key, r.fingerprint FROM runs r JOIN wanted USING (run_key)", self.db)
        tg = pd.read_sql_query("SELECT fingerprint, split, labels AS targets FROM targets", self.db)
        out = preds.merge(fps, on="run_key", how="left").merge(tg, on=["fingerprint", "split"], how="left")
        out["targets"] = out["targets"].astype(object).where(out["targets"].notna(), None)
        return out[["run_key", "split", "labels", "targets"]]

    def frames(self, suite: str | None = None):
        """(runs, metrics, reliability) pandas frames in the report's schema.

        With ``suite``, rows are the suite's members, labelled with the suite's own
        benchmark and regularizer names (a run reused from another suite keeps its key).
        """
        import pandas as pd

        if suite is None:
            runs = pd.read_sql_query(
                "SELECT run_key, suite, benchmark, regularizer, regularizer_kind, params, seed, status, "
                "error, submission, timings, curves, spec FROM runs",
                self.db,
            )
        else:
            runs = pd.read_sql_query(
                "SELECT s.run_key, s.suite, s.benchmark, s.regularizer, r.regularizer_kind, r.params, "
                "s.seed, COALESCE(r.status, 'missing') AS status, r.error, COALESCE(r.submission, 0) AS "
                "submission, r.timings, r.curves, r.spec FROM suite_runs s LEFT JOIN runs r USING (run_key) "
                "WHERE s.suite = ?",
                self.db,
                params=(suite,),
            )
        if suite is None:
            keys = tuple(runs["run_key"].unique())
            metrics = self._frame("metrics", keys)
            reliability = unpack_reliability(self._frame("reliability", keys))
        else:  # join in SQL: no temporary table of 100k keys, one pass per table
            metrics = self._suite_metrics(suite)
            reliability = unpack_reliability(self._suite_frame("reliability", suite))
        runs["submission"] = runs["submission"].astype(bool)
        return runs, metrics, reliability

    def _suite_frame(self, table: str, suite: str):
        """Every row of ``table`` for the runs of ``suite`` (one query, fetchall, then built column
        by column: ~2× faster than read_sql_query on a million rows)."""
        cur = self.db.execute(
            f"SELECT t.* FROM {table} t JOIN (SELECT DISTINCT run_key FROM suite_runs WHERE suite = ?) USING (run_key)",
            (suite,),
        )
        cols = [d[0] for d in cur.description]
        return _columnar(cur.fetchall(), cols, _TEXT_COLUMNS)

    def _suite_metrics(self, suite: str):
        """The metric rows of ``suite``'s runs, read columnar: one text per column, parsed by numpy.

        Python's sqlite3 makes a tuple and an object per cell: a million rows cost seconds.
        Here one aggregate row holds each column joined into one text (the aggregates of one
        SELECT see the rows in the same order); numbers are printed with 17 significant digits,
        which float64 reads back exactly. The four short text columns travel as one joined
        text per row and are rebuilt from their few distinct values.
        """
        import numpy as np
        import pandas as pd

        sep, row_sep, null = "\x1f", "\x1d", "\x1e"  # control characters: never in a name
        text = " || x'1f' || ".join(f"IFNULL({c}, x'1e')" for c in _METRIC_TEXT)

        def number(c):
            return f"group_concat(CASE WHEN {c} IS NULL THEN 'nan' ELSE printf('%!.17g', {c}) END)"

        row = self.db.execute(
            f"SELECT count(*), group_concat(run_key, x'1d'), group_concat({text}, x'1d'), {number('severity')}, "
            f"{number('value')}, group_concat(IFNULL(n, 'nan')) FROM metrics "  # n: integers, exact as text
            "WHERE run_key IN (SELECT run_key FROM suite_runs WHERE suite = ?)",
            (suite,),
        ).fetchone()
        count = row[0]
        if not count:
            return pd.DataFrame(columns=_METRIC_ORDER)
        keys = np.array(row[1].split(row_sep), dtype=object)
        codes, uniques = pd.factorize(np.array(row[2].split(row_sep), dtype=object))
        parts = [u.split(sep) for u in uniques]
        severity, value, n = (np.fromstring(t, sep=",") for t in row[3:])  # C strtod, exact for 17 digits
        broken = any(len(p) != len(_METRIC_TEXT) for p in parts)
        if broken or not keys.size == codes.size == value.size == n.size == severity.size == count:
            raise StoreError(f"{self.path}: a metric row could not be read back (text columns hold a separator)")
        cols: dict = {"run_key": pd.Series(keys, dtype=object)}
        for j, c in enumerate(_METRIC_TEXT):
            values = np.array([None if p[j] == null else p[j] for p in parts], dtype=object)
            cols[c] = pd.Series(values[codes], dtype=object)
        cols["severity"], cols["value"] = severity, value
        whole = np.isfinite(n).all()
        cols["n"] = n.astype(np.int64) if whole else n  # integers, float where a size is missing (as pandas)
        return pd.DataFrame(cols)[_METRIC_ORDER]

    def _frame(self, table: str, keys: tuple[str, ...]):
        import pandas as pd

        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (run_key TEXT PRIMARY KEY)")
        self.db.execute("DELETE FROM wanted")
        self.db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(k,) for k in keys])
        return pd.read_sql_query(f"SELECT t.* FROM {table} t JOIN wanted USING (run_key)", self.db)


_TEXT_COLUMNS = {"run_key", "split", "family", "shift", "metric"}
_METRIC_TEXT = ("split", "family", "shift", "metric")
_METRIC_ORDER = ["run_key", "split", "family", "shift", "severity", "metric", "value", "n"]


def _columnar(rows: list[tuple], cols: list[str], text: set[str]):
    """A frame built column by column from fetched rows.

    Text columns stay numpy object arrays (None for NULL): pandas' default Arrow-backed
    strings cost ~1 s per million cells to build and make every later ``isin``/``map`` on
    run keys convert back to Python objects; numbers are inferred as pandas always did.
    """
    import numpy as np
    import pandas as pd

    if not rows:
        return pd.DataFrame(columns=cols)
    columns = zip(*rows)
    return pd.DataFrame(
        {
            c: pd.Series(np.array(v, dtype=object), dtype=object) if c in text else pd.Series(v)
            for c, v in zip(cols, columns)
        },
        copy=False,
    )


def read_schema_version(db: sqlite3.Connection, path: Path) -> int | None:
    """The store's schema version, read without writing anything; None for an empty database.

    Raises :class:`StoreError` for a foreign SQLite file (tables, but no regbench ``meta``),
    a version that is not a number, or another version than :data:`SCHEMA_VERSION`.
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
    if version != SCHEMA_VERSION:
        raise StoreError(f"{path}: schema version {version}, this regbench reads {SCHEMA_VERSION}")
    return version


def store_error(path: str | Path, err: BaseException) -> StoreError:
    """One line for an SQLite error from the store at ``path`` (pandas' wrapper included)."""
    cause = err.__cause__ if not isinstance(err, sqlite3.Error) and err.__cause__ is not None else err
    text = str(cause)
    if "file is not a database" in text:
        return StoreError(f"{path}: not a usable regbench store ({text})")
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StoreError(f"{path}: the store is read-only here ({text}); pass another --store")
    if "locked" in text or "busy" in text:
        return StoreError(f"{path}: the store stayed locked by another process for 60 s ({text}); try again")
    return StoreError(
        f"{path}: the store is damaged ({text}); recover what is readable with "
        f'`sqlite3 {path} ".recover" | sqlite3 recovered.sqlite` and pass --store recovered.sqlite'
    )


def is_store_error(err: BaseException) -> bool:
    """True for an SQLite error, raised directly or wrapped by pandas' ``read_sql_query``."""
    if isinstance(err, sqlite3.Error):
        return True
    return type(err).__name__ == "DatabaseError" and isinstance(err.__cause__, sqlite3.Error)


def pack_floats(values: list[float]) -> bytes:
    """A list of floats as float64 bytes (one reliability bin per element)."""
    return array("d", values).tobytes()


def unpack_reliability(packed):
    """Rows (run_key, split, confidence, accuracy, count) of packed bins → one row per bin:
    (run_key, split, bin, confidence, accuracy, count). Vectorized: 3 M bins in well under 1 s,
    where storing a row per bin made reading a 100k-run store take ~7 s."""
    import numpy as np
    import pandas as pd

    cols = ["run_key", "split", "bin", "confidence", "accuracy", "count"]
    if packed.empty:
        return pd.DataFrame(columns=cols)
    n_bins = packed["count"].map(len).to_numpy() // 8
    out = {c: np.frombuffer(b"".join(packed[c]), dtype=np.float64) for c in ("confidence", "accuracy", "count")}
    return pd.DataFrame(
        {
            # object dtype, as _columnar: Arrow strings of 3 M keys cost ~1 s to build
            "run_key": pd.Series(np.repeat(packed["run_key"].to_numpy(object), n_bins), dtype=object),
            "split": pd.Series(np.repeat(packed["split"].to_numpy(object), n_bins), dtype=object),
            "bin": np.arange(n_bins.sum()) - np.repeat(np.cumsum(n_bins) - n_bins, n_bins),
            **out,
        }
    )[cols]


def record_to_json(rec: RunRecord) -> dict[str, Any]:
    """A JSON-able dict of a record (predictions dropped)."""
    d = asdict(rec)
    d.pop("predictions", None)
    return d
