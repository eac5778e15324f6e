"""The SQLite results store: atomic records, append-only results, frames for the report."""

import sqlite3

import pytest

from regbench.store import RunRecord, Store, StoreError


def record(key="k1", status="ok", seed=0, acc=0.9):
    return RunRecord(
        run_key=key,
        suite="s",
        benchmark="b",
        shift_kind="covariate",
        regularizer="erm",
        regularizer_kind="none",
        params=[{"name": "erm", "params": {}}],
        seed=seed,
        status=status,
        metrics=[
            {
                "split": "test_id",
                "family": "id",
                "shift": None,
                "severity": None,
                "metric": "accuracy",
                "value": acc,
                "n": 10,
            }
        ],
        reliability={
            "test_id": {
                "confidence": [0.1 * i for i in range(15)],
                "accuracy": [0.5] * 15,
                "count": [float(i) for i in range(15)],
            }
        },
        predictions={"test_id": b"\x00\x01"},
    )


def test_round_trip_into_report_frames(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.put(record("k1", seed=0))
    store.put(record("k2", seed=1, acc=0.8))
    store.add_to_suite("s", [("k1", "b", "erm", 0), ("k2", "b", "erm", 1), ("k3", "b", "erm", 2)])
    runs, metrics, rel = store.frames("s")
    assert sorted(runs["status"]) == ["missing", "ok", "ok"]  # planned but not yet run is visible
    assert sorted(metrics["value"]) == [0.8, 0.9]
    assert len(rel) == 30 and list(rel.columns) == ["run_key", "split", "bin", "confidence", "accuracy", "count"]
    one = rel[rel.run_key == "k1"].sort_values("bin")
    assert one["bin"].tolist() == list(range(15)) and one["count"].tolist() == [float(i) for i in range(15)]
    assert one["confidence"].tolist() == pytest.approx([0.1 * i for i in range(15)])
    assert store.predictions("k1") == {"test_id": b"\x00\x01"}


def test_finished_runs_are_never_overwritten_failed_ones_are(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.put(record("k", status="failed"))
    store.put(record("k", status="ok", acc=0.7))
    store.put(record("k", status="ok", acc=0.1))  # a second "ok" for the same key is ignored
    assert store.statuses() == {"k": "ok"}
    assert [r["metrics"]["test_id"]["accuracy"] for r in store.records()] == [0.7]
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 1


def test_not_a_store_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not sqlite")
    with pytest.raises(StoreError, match="not a usable regbench store"):
        Store(bad)


def test_other_schema_version_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    with pytest.raises(StoreError, match="schema version 999"):
        Store(path)
