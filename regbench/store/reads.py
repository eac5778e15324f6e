"""Reading the store: run statuses, records for export, and the report's pandas frames.

pandas and numpy are imported inside the methods that build frames, so importing the store
stays light for commands that never read one. Text columns stay numpy object arrays (see
:func:`_columnar`) and reliability bins are unpacked vectorized (:func:`unpack_reliability`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NamedTuple

from regbench.store.integrity import StoreError
from regbench.store.schema import FINAL_STATUSES, StoreFile, has_column


class ImageOutcome(NamedTuple):
    """One run's per-image result on one test split: ``correct`` bool (N,), ``clusters`` int64 (N,)
    (the base image of each image, ``meta["image_id"]``; ``arange(N)`` where none was recorded:
    each image its own cluster) and the data ``fingerprint`` (runs sharing it share the images)."""

    correct: Any
    clusters: Any
    fingerprint: str


class StoreReads(StoreFile):
    """The reading methods of :class:`~regbench.store.Store`."""

    def statuses(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """run_key → status for the given keys (all when None)."""
        rows = self.db.execute("SELECT run_key, status FROM runs").fetchall()
        if keys is None:
            return dict(rows)
        wanted = set(keys)
        return {k: s for k, s in rows if k in wanted}

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` whose runs finished (``FINAL_STATUSES``) and need no training."""
        return {k for k, s in self.statuses(keys).items() if s in FINAL_STATUSES}

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def suites(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT suite FROM suite_runs ORDER BY suite")]

    def split_sizes(self, keys: Iterable[str], split: str = "val") -> dict[str, int]:
        """run_key → how many examples ``split`` held (the ``n`` of its accuracy row), for the
        runs among ``keys`` that recorded one (the binomial SE of sweep selection needs it)."""
        wanted = set(keys)
        rows = self.db.execute(
            "SELECT run_key, n FROM metrics WHERE split = ? AND metric = 'accuracy' AND n IS NOT NULL", (split,)
        )
        return {k: int(n) for k, n in rows if k in wanted}

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

    def provenance(self, suite: str) -> dict[str, dict[str, Any]]:
        """run_key → {"env": the run's env dict, "created_at": epoch seconds} for the recorded
        runs of ``suite`` (what a publication bundle says about how each run was made)."""
        rows = self.db.execute(
            "SELECT r.run_key, r.env, r.created_at FROM runs r "
            "JOIN (SELECT DISTINCT run_key FROM suite_runs WHERE suite = ?) USING (run_key)",
            (suite,),
        ).fetchall()
        return {k: {"env": json.loads(env) if env else {}, "created_at": t} for k, env, t in rows}

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

    def outcomes(self, keys: Iterable[str]) -> dict[tuple[str, str], ImageOutcome]:
        """(run_key, split) → :class:`ImageOutcome` for every stored test split of runs ``keys``.

        Correctness is the stored predicted labels compared with the true ones; runs without
        stored targets (recorded before targets were, or sequence tasks) are left out. One
        query; labels and cluster ids are unpacked once per (fingerprint, split) and shared.
        """
        import zlib

        import numpy as np

        keys = tuple(dict.fromkeys(keys))
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (run_key TEXT PRIMARY KEY)")
        self.db.execute("DELETE FROM wanted")
        self.db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(k,) for k in keys])
        clusters = "t.clusters" if has_column(self.db, "targets", "clusters") else "NULL"  # a v2 store read-only
        rows = self.db.execute(
            f"SELECT p.run_key, p.split, p.labels, r.fingerprint, t.labels, {clusters} FROM predictions p "
            "JOIN wanted USING (run_key) JOIN runs r USING (run_key) "
            "JOIN targets t ON t.fingerprint = r.fingerprint AND t.split = p.split"
        ).fetchall()
        truth: dict[tuple[str, str], tuple[Any, Any]] = {}
        out = {}
        for key, split, pred, fp, target, ids in rows:
            if (fp, split) not in truth:
                y = np.frombuffer(zlib.decompress(target), dtype=np.int16)
                c = np.arange(y.size) if ids is None else np.frombuffer(zlib.decompress(ids), np.int32).astype(np.int64)
                truth[fp, split] = (y, c)
            y, c = truth[fp, split]
            guess = np.frombuffer(zlib.decompress(pred), dtype=np.int16)
            if guess.size != y.size:
                raise StoreError(f"{self.path}: run {key} split {split}: {guess.size} predictions for {y.size} labels")
            out[key, split] = ImageOutcome(guess == y, c, fp)
        return out

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
