"""Mechanism numbers: a regularizer whose number shows no effect against erm's is flagged inactive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_fixtures import make_frames

from regbench.report import build_leaderboard
from regbench.report.mechanism import mechanism_for, mechanism_table


def _with_run_numbers(runs: pd.DataFrame, metrics: pd.DataFrame, numbers: dict) -> pd.DataFrame:
    """Add run-level rows: numbers = {(benchmark, regularizer): {metric: per-seed values}}."""
    rows = []
    for (bench, reg), by_metric in numbers.items():
        keys = runs[(runs["benchmark"] == bench) & (runs["regularizer"] == reg)].sort_values("seed")["run_key"]
        for metric, values in by_metric.items():
            for key, v in zip(keys, values):
                rows.append({"run_key": key, "split": "run", "family": None, "shift": None, "severity": np.nan,
                             "metric": metric, "value": float(v), "n": pd.NA})  # fmt: skip
    return pd.concat([metrics, pd.DataFrame(rows)], ignore_index=True)


REGS = ["erm", "l2", "weight_decay", "early_stopping", "grad_clip", "mixup", "batchnorm"]
KINDS = {"early_stopping": "stopping", "grad_clip": "gradient", "batchnorm": "architecture"}


@pytest.fixture
def frames():
    runs, metrics, rel, suite = make_frames(n_benchmarks=2, regularizers=REGS, seeds=3)
    runs["regularizer_kind"] = runs["regularizer"].map(KINDS).fillna(runs["regularizer_kind"])
    b0, b1 = sorted(runs["benchmark"].unique())
    numbers = {}
    for b in (b0, b1):
        numbers[b, "erm"] = {"weight_norm": [10.0, 10.2, 9.9], "train_loss": [0.02, 0.03, 0.025]}
        numbers[b, "mixup"] = {"train_loss": [0.30, 0.28, 0.33]}  # acts: clean train NLL far above erm's
        numbers[b, "grad_clip"] = {"clipped_fraction": [0.0, 0.01, 0.0] if b == b0 else [0.4, 0.5, 0.45]}
        numbers[b, "batchnorm"] = {"weight_norm": [10.0, 10.0, 10.0]}
    numbers[b0, "l2"] = {"weight_norm": [9.9, 10.1, 10.0]}  # the ~1% of a no-op
    numbers[b1, "l2"] = {"weight_norm": [7.0, 7.1, 6.9]}
    numbers[b0, "weight_decay"] = {"weight_norm": [10.1, 10.0, 10.0]}
    numbers[b1, "weight_decay"] = {"weight_norm": [10.0, 10.05, 10.1]}
    # early stopping ran all 12 epochs and kept the last one on b0; stopped early on b1
    numbers[b0, "early_stopping"] = {"restored_epoch": [12, 12, 11], "epochs_run": [12, 12, 12]}
    numbers[b1, "early_stopping"] = {"restored_epoch": [5, 7, 6], "epochs_run": [8, 10, 9]}
    return runs, _with_run_numbers(runs, metrics, numbers), rel, suite, (b0, b1)


def test_mechanism_table_judges_each_kind(frames):
    runs, metrics, _, _, (b0, b1) = frames
    t = mechanism_table(runs, metrics).set_index(["benchmark", "regularizer"])
    assert set(t.index.get_level_values("regularizer")) == {
        "l2",
        "weight_decay",
        "early_stopping",
        "grad_clip",
        "mixup",
    }
    assert t.loc[(b0, "l2"), "inactive"] and not t.loc[(b1, "l2"), "inactive"]
    assert t.loc[(b1, "l2"), "effect"] == pytest.approx(7.0 / 10.033333 - 1, rel=1e-4)
    assert t.loc[(b0, "weight_decay"), "inactive"] and t.loc[(b1, "weight_decay"), "inactive"]
    assert t.loc[(b0, "early_stopping"), "value"] == pytest.approx(1 / 3) and t.loc[(b0, "early_stopping"), "inactive"]
    assert not t.loc[(b1, "early_stopping"), "inactive"]
    assert t.loc[(b0, "grad_clip"), "inactive"] and not t.loc[(b1, "grad_clip"), "inactive"]
    assert not t.loc[(b0, "mixup"), "inactive"]


def test_norm_layers_and_recipes_get_no_verdict():
    assert mechanism_for("batchnorm", "architecture") is None and mechanism_for("modern_recipe", "recipe") is None
    assert mechanism_for("dropout_0.5", "architecture").metric == "train_loss"


def test_missing_numbers_give_no_verdict(frames):
    runs, metrics, _, _, _ = frames
    plain = metrics[~metrics["metric"].isin(["weight_norm", "train_loss", "restored_epoch", "clipped_fraction"])]
    t = mechanism_table(runs, plain)
    assert t["inactive"].isna().all()  # old records without mechanism numbers: nothing is flagged


def test_leaderboard_flags_inactive_rows(frames, tmp_path):
    runs, metrics, rel, suite, (b0, b1) = frames
    lb = build_leaderboard(runs, metrics, rel, suite, tmp_path, reps=50, plots=False)
    main = lb.main.set_index("regularizer")
    assert main.loc["weight_decay", "inactive_on"] == 2 and main.loc["l2", "inactive_on"] == 1
    assert main.loc["mixup", "inactive_on"] == 0 and main.loc["erm", "mechanism_on"] == 0
    readme = (tmp_path / "README.md").read_text()
    assert "| weight_decay (inactive on 2/2) |" in readme and "| l2 (inactive on 1/2) |" in readme
    assert "| mixup |" in readme
    assert "(inactive): the regularizer's mechanism number shows no effect" in readme
    mech = (tmp_path / "mechanisms.md").read_text()
    assert f"| {b0} | l2 | weight L2 norm |" in mech and "**inactive**" in mech


def test_only_weight_penalties_are_judged_by_the_weight_norm():
    """irm's or vrex's penalty acts on the risks, not the weights: no weight-norm verdict for them."""
    from regbench.report.mechanism import mechanism_for

    assert mechanism_for("l2", "penalty").metric == "weight_norm"
    assert mechanism_for("weight_decay", "optimizer").metric == "weight_norm"
    assert mechanism_for("irm", "penalty") is None and mechanism_for("vrex", "penalty") is None


def test_sam_is_judged_by_the_top_hessian_eigenvalue_against_erms():
    """sam's own ``sharpness`` (its training steps) is not what is judged: erm has none; nor the
    loss rise at ρ = 0.05, whose first-order term reads the fit; the top Hessian eigenvalue
    erm's and sam's runs record is, and mechanisms.md shows it as a relative change."""
    from regbench.report.mechanism import render_markdown

    runs, metrics, _, _ = make_frames(n_benchmarks=1, regularizers=["erm", "sam", "asam"], seeds=2)
    runs["regularizer_kind"] = runs["regularizer"].map({"sam": "sharpness", "asam": "sharpness"}).fillna("none")
    (b,) = runs["benchmark"].unique()
    eig = "hessian_max_eigenvalue"
    numbers = {  # sam: a larger loss rise than erm's (a looser fit), a flatter minimum
        (b, "erm"): {eig: [8.0, 8.0], "sharpness_at_0.05": [0.002, 0.002]},
        (b, "sam"): {eig: [2.0, 3.0], "sharpness_at_0.05": [0.009, 0.009], "sharpness": [0.03, 0.03]},
        (b, "asam"): {eig: [7.9, 8.1], "sharpness_at_0.05": [0.001, 0.001], "sharpness": [0.09, 0.08]},
    }
    t = mechanism_table(runs, _with_run_numbers(runs, metrics, numbers)).set_index("regularizer")
    assert t.loc["sam", "effect"] == pytest.approx(2.5 / 8.0 - 1) and not t.loc["sam", "inactive"]
    assert t.loc["asam", "inactive"]  # within 5% of erm's
    assert f"| {b} | sam | top Hessian eigenvalue | 2.5 | 8 | -68.8% | acts |" in render_markdown(
        t.reset_index()[["benchmark", "regularizer", "mechanism", "value", "erm_value", "effect", "inactive"]], "s"
    )
    # the direction counts: a sam run that ends 3x sharper than erm moves its number, not its mechanism
    sharper = {**numbers, (b, "sam"): {eig: [24.0, 24.0], "sharpness_at_0.05": [0.0005, 0.0005]}}
    t = mechanism_table(runs, _with_run_numbers(runs, metrics, sharper)).set_index("regularizer")
    assert t.loc["sam", "effect"] == pytest.approx(2.0) and t.loc["sam", "inactive"]
    only_own = _with_run_numbers(
        runs, metrics, {(b, "sam"): {"sharpness": [0.03, 0.03], "sharpness_at_0.05": [0.0, 0.0]}}
    )
    assert mechanism_table(runs, only_own)["inactive"].isna().all()  # older records: no verdict
