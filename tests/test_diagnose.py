"""End to end: a tiny suite with label noise and a long budget → `regbench diagnose`.

erm on a wide MLP memorizes the noisy labels (overfit, val-loss minimum before the last
epoch); a 1-unit-wide MLP cannot fit even the clean part (underfit).
"""

import json
import sqlite3

import pandas as pd
import pytest

from regbench.cli import main
from regbench.store import Store

SUITE = """
name: tinydiag
seeds: [0, 1]
train: {epochs: 60, batch_size: 64, optimizer: adam, lr: 1.0e-2, label_noise: 0.3}
benchmarks:
  - name: noisy
    dataset: digits
    model: mlp
    model_args: {depth: 1}
    sweep_model_args: {width: [1, 256]}
    shift: {kind: covariate, corruptions: [gaussian_noise], severities: [3]}
regularizers: [erm]
"""


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diag")
    (tmp / "tinydiag.yaml").write_text(SUITE)
    store = tmp / "s.sqlite"
    code = main(["run", str(tmp / "tinydiag.yaml"), "--store", str(store), "--workers", "1", "--no-progress"])
    # the width-1 model is meant to underfit: it may be recorded collapsed (a result: exit 0), nothing else
    statuses = Store(store).statuses()
    assert set(statuses.values()) <= {"ok", "collapsed"} and "ok" in statuses.values()
    assert code == 0
    out = tmp / "out"
    assert main(["diagnose", str(tmp / "tinydiag.yaml"), "--store", str(store), "--out", str(out)]) == 0
    return tmp, store, out


def test_noisy_erm_overfits_and_a_one_unit_mlp_underfits(done):
    _, _, out = done
    d = pd.read_csv(out / "diagnoses.csv")
    wide = d[d["benchmark"] == "noisy-width256"]
    narrow = d[d["benchmark"] == "noisy-width1"]
    assert len(wide) == len(narrow) == 2
    assert (wide["diagnosis"] == "overfit").all(), wide.to_dict("records")
    assert (wide["min_val_loss_epoch"] < wide["epochs"]).all()
    assert wide["rose_while_train_fell"].all()
    assert (narrow["diagnosis"] == "underfit").all(), narrow.to_dict("records")


def test_table_has_the_diagnostics_columns(done, capsys):
    _, _, out = done
    t = pd.read_csv(out / "diagnostics.csv").set_index("benchmark")
    for col in (
        "bias_id",
        "variance_id",
        "churn_id",
        "bias_ood",
        "variance_ood",
        "churn_ood",
        "mia_auc",
        "temperature",
        "n_underfit",
        "n_overfit",
        "n_ok",
    ):
        assert col in t
    assert t.loc["noisy-width256", "n_overfit"] == 2 and t.loc["noisy-width1", "n_underfit"] == 2
    # the wide model memorized noisy training labels: its losses leak membership
    assert t.loc["noisy-width256", "mia_auc"] > 0.5
    assert 0 <= t.loc["noisy-width256", "bias_id"] < t.loc["noisy-width1", "bias_id"]
    bv = pd.read_csv(out / "bias_variance.csv")
    assert set(bv["family"]) == {"id", "ood"} and (bv["runs"] == 2).all()
    assert ((bv["mean_error"] - bv["bias"] - bv["net_variance"]).abs() < 1e-5).all()  # CSV keeps 6 digits


def test_files_and_thresholds_are_written(done):
    _, _, out = done
    md = (out / "diagnostics.md").read_text()
    assert "underfit: train (clean, eval mode) and val accuracy both ≥ 0.10 below" in md and "val loss not rising" in md
    for png in ("bias_variance.png", "learning_curves.png", "error_vs_width.png"):
        assert (out / png).stat().st_size > 1000 and f"]({png})" in md
    w = pd.read_csv(out / "error_vs_width.csv")
    assert sorted(w["width"].unique()) == [1, 256] and set(w["base"]) == {"noisy"}


def test_diagnose_is_read_only_and_deterministic(done):
    tmp, store, out = done
    before = sqlite3.connect(store).execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    again = tmp / "again"
    assert main(["diagnose", str(tmp / "tinydiag.yaml"), "--store", str(store), "--out", str(again), "--no-plots"]) == 0
    assert sqlite3.connect(store).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == before == 4
    assert (again / "diagnostics.csv").read_text() == (out / "diagnostics.csv").read_text()
    assert not (again / "learning_curves.png").exists()


def test_predictions_frame_joins_targets(done):
    _, store, _ = done
    from regbench.store import Store

    s = Store(store)
    runs, _, _ = s.frames("tinydiag")
    p = s.predictions_frame(runs["run_key"])
    assert len(p) == 4 * 2 and p["targets"].notna().all()  # 4 runs × (test_id + 1 OOD split)
    curves = json.loads(runs["curves"].iloc[0])
    assert len(curves["val_loss"]) == 60


def test_unknown_suite_and_empty_store_are_one_line_errors(done, tmp_path, capsys, monkeypatch):
    tmp, _, _ = done
    monkeypatch.chdir(tmp_path)  # the default --out is leaderboard/<suite> under the working folder
    assert main(["diagnose", "no-such-suite", "--store", str(tmp_path / "x.sqlite")]) == 1
    assert "unknown suite 'no-such-suite'" in capsys.readouterr().err
    assert main(["diagnose", str(tmp / "tinydiag.yaml"), "--store", str(tmp_path / "empty.sqlite")]) == 1
    err = capsys.readouterr().err.strip()  # a read-only command creates no store
    assert "empty.sqlite: no store there" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "empty.sqlite").exists()
    assert not (tmp_path / "leaderboard").exists()  # a failed command leaves no empty output folder
