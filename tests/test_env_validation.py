"""Per-environment validation: a benchmark with training environments records each one's val
accuracy and NLL (splits ``val/env<e>``), while model selection reads the pooled ``val`` split."""

from __future__ import annotations

import sqlite3

import pytest
import yaml

from regbench.cli import main
from regbench.report.table.model_selection import val_score
from regbench.store import Store


def run_tiny(tmp_path, shift: dict, regularizers: list) -> tuple[list[dict], sqlite3.Connection]:
    """One seed of each regularizer, 2 epochs of 64-example batches on digits under ``shift``."""
    suite = {
        "name": "envval",
        "seeds": [0],
        "train": {"epochs": 2, "batch_size": 64, "lr": 3e-3},
        "benchmarks": [{"name": "b", "dataset": "digits", "model": "mlp", "model_args": {"width": 16}, "shift": shift}],
        "regularizers": regularizers,
    }
    path, store = tmp_path / "s.yaml", tmp_path / "s.sqlite"
    path.write_text(yaml.safe_dump(suite))
    assert main(["run", str(path), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    return Store(store).records(), sqlite3.connect(store)


@pytest.fixture(scope="module")
def colored(tmp_path_factory):
    recs, db = run_tiny(tmp_path_factory.mktemp("cm"), {"kind": "colored_mnist"}, ["erm", "irm"])
    yield recs, db
    db.close()


def test_colored_mnist_records_val_accuracy_per_training_environment(colored):
    recs, _ = colored
    assert {r["regularizer"] for r in recs} == {"erm", "irm"}
    for rec in recs:
        m = rec["metrics"]
        assert {"val/env0", "val/env1"} <= set(m) and "val/env2" not in m  # the test env is not validation
        for e in ("val/env0", "val/env1"):
            assert set(m[e]) == {"accuracy", "nll"}
            assert 0.0 < m[e]["accuracy"] < 1.0 and m[e]["nll"] > 0


def test_per_environment_rows_partition_the_pooled_validation_split(colored):
    recs, db = colored
    for rec in recs:
        rows = db.execute(
            "SELECT split, value, n FROM metrics WHERE run_key=? AND metric='accuracy' AND split LIKE 'val%'",
            (rec["run_key"],),
        ).fetchall()
        by = {s: (v, n) for s, v, n in rows}
        assert set(by) == {"val", "val/env0", "val/env1"}
        pooled, n = by["val"]
        parts = [by["val/env0"], by["val/env1"]]
        # 359 val digits dealt to the two environments in turn: sizes add up, differ by ≤ 1
        assert sum(k for _, k in parts) == n and abs(parts[0][1] - parts[1][1]) <= 1
        # the size-weighted mean of the environments' accuracies is the pooled accuracy
        assert sum(v * k for v, k in parts) / n == pytest.approx(pooled, abs=1e-9)
        # selection reads the pooled training-domain validation
        assert val_score(rec) == pooled


def test_a_benchmark_without_environments_has_no_per_environment_rows(tmp_path):
    (rec,), db = run_tiny(tmp_path, {"kind": "none"}, ["erm"])
    db.close()
    assert "val" in rec["metrics"] and not any(s.startswith("val/") for s in rec["metrics"])


def test_the_two_environment_vrex_form_is_refused_at_load_on_five_environments(tmp_path, capsys):
    # V-REx's form: squared_difference is the REx paper's (R1 - R2)^2: on rotated digits (five
    # training domains) the suite stops when it loads, not 3 runs into training, and declaring
    # the pair not_applicable is accepted (the pair really cannot run)
    vrex = {"stack": [{"name": "vrex", "form": "squared_difference"}], "label": "vrex"}
    bench = {"name": "rot", "dataset": "digits", "model": "mlp", "shift": {"kind": "rotated", "test_domain": 75}}
    suite = {"name": "rex2", "seeds": [0], "benchmarks": [bench], "regularizers": ["erm", vrex]}
    path = tmp_path / "rex2.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "defined for exactly 2 training environments and this benchmark has 5" in err
    bench["not_applicable"] = {"vrex": "the paper's form is for two environments"}
    path.write_text(yaml.safe_dump(suite))
    assert main(["validate", str(path)]) == 0
