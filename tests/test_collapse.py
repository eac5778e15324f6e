"""Collapsed runs: a constant or chance-level classifier is recorded ``collapsed``, counted, never averaged."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_suite
from report_fixtures import make_frames

from regbench.cli import main
from regbench.evaluate.collapse import (
    CHANCE_Z,
    CONSTANT_SHARE,
    PRIOR_MARGIN,
    chance_ceiling,
    collapse_reason,
    constant_prediction,
)
from regbench.evaluate.records import Evaluation, pack_predictions
from regbench.regularizers import REGULARIZERS, register_regularizer
from regbench.regularizers.base import Regularizer
from regbench.report.render.display import COUNT_HEADERS, cell_text, footnotes
from regbench.report.table.aggregate import aggregate
from regbench.report.table.collapsed import COLLAPSED
from regbench.store import FINAL_STATUSES


def evaluation(splits: dict[str, tuple[torch.Tensor, torch.Tensor]], train_acc: float, n_train: int) -> Evaluation:
    """An Evaluation with (predicted, true) labels per test split and a train accuracy row."""
    ev = Evaluation()
    ev.add("train", "accuracy", train_acc, n_train)
    for name, (pred, y) in splits.items():
        ev.predictions[name], ev.targets[name] = pack_predictions(pred), pack_predictions(y)
    return ev


def balanced(n: int, k: int) -> torch.Tensor:
    return torch.arange(n) % k


def test_constant_predictions_on_a_balanced_split_are_collapsed():
    y = balanced(500, 5)
    hit = constant_prediction(torch.full((500,), 3), y, 5)
    assert hit == (3, 1.0, 0.2)
    # 99% of the images on one class is enough; 98% is not
    almost = y.clone()
    almost[:495] = 3
    assert constant_prediction(almost, y, 5)[0] == 3
    fewer = y.clone()
    fewer[:490] = 3
    assert constant_prediction(fewer, y, 5) is None
    ev = evaluation({"test_id": (y, y), "ood/noise-5": (torch.full((500,), 3), y)}, train_acc=0.9, n_train=1000)
    reason = collapse_reason(ev, 5)
    assert reason == "collapsed: predicts class 3 for 100.0% of ood/noise-5's images (true share 20.0%)"


def test_a_label_shift_split_of_one_class_does_not_collapse_a_correct_classifier():
    y = torch.zeros(1000, dtype=torch.long)
    y[:10] = torch.arange(1, 11)  # 99% of the true labels are class 0
    assert constant_prediction(y, y, 11) is None  # a perfect classifier predicts class 0 on 99%
    sloppy = y.clone()
    sloppy[:5] = 0  # half the rare images wrong: 99.5% predicted 0, 0.5 points above its true share
    assert constant_prediction(sloppy, y, 11) is None
    ev = evaluation({"test_id": (balanced(200, 11), balanced(200, 11)), "ood/prior": (y, y)}, 0.95, 1000)
    assert collapse_reason(ev, 11) is None
    # the same split with every image predicted as another class is collapsed
    assert constant_prediction(torch.full((1000,), 4), y, 11) == (4, 1.0, 0.001)


def test_chance_train_accuracy_is_collapsed():
    y = balanced(300, 5)
    ceiling = chance_ceiling(5, 1000)
    assert ceiling == pytest.approx(0.2 + CHANCE_Z * (0.2 * 0.8 / 1000) ** 0.5)
    ev = evaluation({"test_id": (y, y)}, train_acc=0.193, n_train=1000)
    assert collapse_reason(ev, 5) == (
        f"collapsed: train accuracy 19.3% is at chance (1/5 = 20.0%; at most {ceiling:.1%} on 1000 images)"
    )
    assert collapse_reason(evaluation({"test_id": (y, y)}, ceiling + 0.005, 1000), 5) is None
    assert (CONSTANT_SHARE, PRIOR_MARGIN) == (0.99, 0.10)  # the rule docs/metrics.md states


class ConstantClass(Regularizer):
    """Test-only: a loss that teaches the model to answer class 0 for every image."""

    kind = "loss"

    def loss(self, logits, y):
        return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))


@pytest.fixture
def constant_regularizer():
    register_regularizer("test_constant_class")(ConstantClass)
    yield "test_constant_class"
    REGULARIZERS.unregister("test_constant_class")


def _rows(store_path, sql):
    with sqlite3.connect(store_path) as db:
        return db.execute(sql).fetchall()


@pytest.mark.parametrize("batch", [[], ["--batch-seeds"]], ids=["separate", "seed-batched"])
def test_constant_predictor_is_recorded_collapsed_and_left_out_of_the_leaderboard(
    batch, constant_regularizer, write_suite, store_path, tmp_path, capsys, isolated_cache
):
    path = write_suite(
        tiny_suite(regularizers=["erm", constant_regularizer], train={"epochs": 3, "batch_size": 128, "lr": 0.01})
    )
    run = ["run", str(path), "--store", str(store_path), "--workers", "1", "--no-progress", *batch]
    assert main(run) == 0  # a collapsed run is a result: make bench goes on to the leaderboard
    captured = capsys.readouterr()
    assert "2 ok, 0 failed, 0 diverged, 2 collapsed" in captured.out
    assert "2 run(s) collapsed" in captured.err
    status = _rows(store_path, "SELECT regularizer, seed, status, error FROM runs ORDER BY regularizer, seed")
    assert [s[:3] for s in status] == [
        ("erm", 0, "ok"),
        ("erm", 1, "ok"),
        (constant_regularizer, 0, "collapsed"),
        (constant_regularizer, 1, "collapsed"),
    ]
    assert [s[3] for s in status[:2]] == [None, None]
    batched = _rows(store_path, "SELECT COUNT(*) FROM runs WHERE json_extract(timings, '$.seed_batch') = 2")[0][0]
    assert batched == (4 if batch else 0)  # both paths, one by one and seed-batched, were taken
    for _, _, _, error in status[2:]:
        assert error.startswith("collapsed: predicts class 0 for ") and "of test_id's images" in error
    # the run keeps its metrics and predictions
    assert (
        _rows(store_path, "SELECT COUNT(*) FROM metrics m JOIN runs r USING (run_key) WHERE r.status='collapsed'")[0][0]
        > 10
    )
    assert (
        _rows(store_path, "SELECT COUNT(*) FROM predictions p JOIN runs r USING (run_key) WHERE r.status='collapsed'")[
            0
        ][0]
        >= 2
    )
    # a collapsed run is a result: the next invocation trains nothing
    assert main(run) == 0
    assert "0 runs to do, 4 reused" in capsys.readouterr().out
    # the leaderboard counts it and averages only erm
    out = tmp_path / "lb"
    assert (
        main(["leaderboard", str(path), "--store", str(store_path), "--out", str(out), "--no-plots", "--reps", "100"])
        == 0
    )
    readme = (out / "README.md").read_text()
    assert "| Collapsed |" in readme
    row = next(
        line for line in readme.splitlines() if line.startswith(("| – | – | " + constant_regularizer, "| – | – | `"))
    )  # no rank, no tier
    assert COLLAPSED in row and row.rstrip(" |").endswith("| 0† | 0 | 0 | 2")  # seeds, failed, diverged, collapsed
    assert f"{constant_regularizer} on digits-noise (seeds 0, 1)" in readme


def test_collapsed_runs_are_counted_and_excluded_from_means_and_ranks():
    bench = "bench00-covariate"
    statuses = {(bench, "mixup", s): "collapsed" for s in range(3)} | {(bench, "dropout", 0): "collapsed"}
    runs, metrics, _, suite = make_frames(n_benchmarks=2, statuses=statuses)
    lb = aggregate(runs, metrics, suite, reps=200)
    cells = lb.per_benchmark.set_index(["benchmark", "regularizer"])
    # dropout: the mean of its two ok seeds, the collapsed seed counted beside them
    dropout = cells.loc[(bench, "dropout")]
    assert (dropout["seeds"], dropout["collapsed"], dropout["failed"], dropout["diverged"]) == (2, 1, 0, 0)
    acc = metrics[(metrics["split"] == "test_id") & (metrics["metric"] == "accuracy")].set_index("run_key")["value"]
    ok_keys = runs[(runs["benchmark"] == bench) & (runs["regularizer"] == "dropout") & (runs["status"] == "ok")]
    assert dropout["id_accuracy"] == pytest.approx(acc[ok_keys["run_key"]].mean())
    # mixup: every seed collapsed: no number, no rank, the cell says why
    mixup = cells.loc[(bench, "mixup")]
    assert mixup["seeds"] == 0 and mixup["collapsed"] == 3
    assert np.isnan(mixup["ood_accuracy"]) and np.isnan(mixup["rank"])
    ranked = lb.per_benchmark[lb.per_benchmark["benchmark"] == bench]
    assert ranked["rank"].notna().sum() == ranked["regularizer"].nunique() - 1
    column = next(c for c in lb.columns if c.key == "ood_accuracy")
    assert cell_text(column, mixup.to_dict() | {"regularizer": "mixup"}) == COLLAPSED
    assert cell_text(column, dropout.to_dict() | {"regularizer": "dropout"}) != COLLAPSED
    # the suite row counts them too, and the note names benchmark, regularizer and seeds
    main_rows = lb.main.set_index("regularizer")
    assert main_rows.loc["mixup", "collapsed"] == 3 and main_rows.loc["erm", "collapsed"] == 0
    assert "Collapsed" in COUNT_HEADERS
    note = next(n for n in footnotes(lb) if n.startswith("Collapsed:"))
    assert f"dropout on {bench} (seed 0); mixup on {bench} (seeds 0, 1, 2)" in note


def test_collapsed_is_a_final_status():
    assert "collapsed" in FINAL_STATUSES and "failed" not in FINAL_STATUSES
