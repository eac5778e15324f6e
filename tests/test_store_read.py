"""The store's columnar metric read: the same frame as a plain SQL read, to the last bit."""

import math
import sqlite3
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from test_store import record

from regbench.store import RunRecord, Store, StoreError

VALUES = [0.1 + 0.2, 1 / 3, 1e-300, 123456.789012345678, math.inf, -0.0, None, 2.0**-40]


def _record(key: str, split: str, values, n=450, family="covariate", shift="gaussian_noise") -> RunRecord:
    rows = [
        {
            "split": split,
            "family": family if j % 2 else None,
            "shift": shift if j % 3 else None,
            "severity": None if j % 2 else j / 3,
            "metric": f"m{j}",
            "value": v,
            "n": n if j % 4 else None,
        }
        for j, v in enumerate(values)
    ]
    return replace(record(key), metrics=rows, reliability={}, predictions={})


def _plain(path, suite):
    db = sqlite3.connect(path)
    keys = "SELECT run_key FROM suite_runs WHERE suite = ?"
    return pd.read_sql_query(f"SELECT * FROM metrics WHERE run_key IN ({keys})", db, params=(suite,))


def test_columnar_metrics_equal_a_plain_read(tmp_path):
    path = tmp_path / "s.sqlite"
    store = Store(path)
    for i, split in enumerate(["test_id", "ood/gaussian_noise-3", "run"]):
        store.put(_record(f"k{i}", split, VALUES))
        store.add_to_suite("s", [(f"k{i}", "b", "erm", i)])
    store.put(_record("other", "test_id", [0.5]))  # not in the suite: not read
    _, metrics, _ = store.frames("s")
    want = _plain(path, "s")
    key = ["run_key", "metric"]
    got = metrics.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    assert len(got) == 3 * len(VALUES) and "other" not in set(got["run_key"])
    for c in ("run_key", "split", "family", "shift", "metric"):
        assert [None if pd.isna(x) else x for x in got[c]] == [None if pd.isna(x) else x for x in want[c]], c
    for c in ("severity", "value", "n"):  # bit for bit, NaN for NULL, inf kept
        np.testing.assert_array_equal(got[c].to_numpy(np.float64), want[c].to_numpy(np.float64))
    assert got["value"].dtype == np.float64 and got["run_key"].dtype == object


def test_empty_suite_and_a_separator_in_a_name(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    _, metrics, _ = store.frames("nothing")
    assert metrics.empty and list(metrics.columns)[:2] == ["run_key", "split"]
    store.put(_record("k", "ood/a\x1fb", [0.5]))
    store.add_to_suite("s", [("k", "b", "erm", 0)])
    with pytest.raises(StoreError, match="could not be read back"):
        store.frames("s")
