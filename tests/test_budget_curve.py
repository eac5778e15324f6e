"""A suite's budget curve (``budget_curve:``): its spec, its plan, its cells, its report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_suite
from pydantic import ValidationError

from regbench.cli import main
from regbench.config import SuiteSpec
from regbench.harness.budget_curve import budget_plan, budget_suite
from regbench.harness.plan import plan_suite
from regbench.report.render.budget_curve import budget_curve_markdown, budget_curve_plot
from regbench.report.table.budget_curve import ALL_BENCHMARKS, budget_cells
from regbench.report.table.columns import SE_PREFIX

CURVE = {"epochs": [2, 1], "regularizers": ["erm", "label_smoothing"]}


def test_curve_rows_must_be_rows_of_the_suite():
    with pytest.raises(ValidationError, match=r"\['mixup'\] are not rows of the suite"):
        SuiteSpec.model_validate(tiny_suite(budget_curve={"epochs": [1, 2], "regularizers": ["erm", "mixup"]}))


@pytest.mark.parametrize("epochs", [[1, 1], [0, 2], [3]])
def test_curve_needs_two_distinct_positive_budgets(epochs):
    with pytest.raises(ValidationError):
        SuiteSpec.model_validate(tiny_suite(budget_curve={"epochs": epochs, "regularizers": ["erm"]}))


def test_budget_suite_has_a_benchmark_per_budget_and_only_the_curve_rows():
    suite = SuiteSpec.model_validate(tiny_suite(regularizers=["erm", "label_smoothing", "dropout"], budget_curve=CURVE))
    curve = budget_suite(suite)
    assert curve.name == "tiny-budget" and curve.budget_curve is None
    assert [b.name for b in curve.benchmarks] == ["digits-noise.e1", "digits-noise.e2"]  # sorted budgets
    assert [curve.train_for(b).epochs for b in curve.benchmarks] == [1, 2]
    assert [r.display for r in curve.regularizers] == ["erm", "label_smoothing"]
    assert budget_suite(SuiteSpec.model_validate(tiny_suite())) is None


def test_the_suites_own_budget_reuses_its_runs_and_selection_carries_over():
    plan = plan_suite(SuiteSpec.model_validate(tiny_suite(budget_curve=CURVE)))  # suite: 2 epochs
    curve = budget_plan(plan)
    assert curve.members_name == "tiny-budget"
    assert len(curve.runs) == 2 * 2 * 2  # budgets × rows × seeds
    own = {r.run_key for r in curve.runs if r.train.epochs == 2}
    assert own == {r.run_key for r in plan.runs}  # same data, model, row, training and seed
    assert not own & {r.run_key for r in curve.runs if r.train.epochs == 1}
    kept = plan.__class__(plan.suite, plan.source, tuple(r for r in plan.runs if r.seed == 1 and r.kind == "baseline"))
    assert {(r.regularizer.display, r.seed) for r in budget_plan(kept).runs} == {("erm", 1)}


def _table(values: dict[tuple[str, int, str, int], tuple[float, float]]) -> pd.DataFrame:
    """A run_table-like frame: (curve benchmark, epochs, regularizer, seed) → (ood, id) accuracy."""
    rows = [
        {
            "benchmark": f"{b}.e{e}",
            "regularizer": r,
            "seed": s,
            "status": "ok",
            "ood_accuracy": ood,
            "id_accuracy": idacc,
            SE_PREFIX + "ood_accuracy": 0.0,
            SE_PREFIX + "id_accuracy": 0.0,
        }
        for (b, e, r, s), (ood, idacc) in values.items()
    ]
    return pd.DataFrame(rows)


def test_cells_give_means_and_the_paired_difference_to_erm():
    values = {}
    for bench, shift in (("a", 0.0), ("b", 0.1)):
        for seed, noise in enumerate((0.00, 0.02, -0.01)):
            values[(bench, 10, "erm", seed)] = (0.60 + shift + noise, 0.90)
            values[(bench, 10, "aug", seed)] = (0.65 + shift + noise + 0.01 * seed, 0.85)
    names = {f"{b}.e10": (b, 10) for b in ("a", "b")}
    cells = budget_cells(_table(values), names)
    assert list(dict.fromkeys(cells["benchmark"])) == ["a", "b", ALL_BENCHMARKS]
    aug = cells[(cells["benchmark"] == "a") & (cells["regularizer"] == "aug") & (cells["metric"] == "ood_accuracy")]
    assert aug["mean"].item() == pytest.approx(np.mean([0.65, 0.68, 0.66]))
    assert aug["diff"].item() == pytest.approx(0.06)  # mean of 0.05, 0.06, 0.07
    assert aug["diff_lo"].item() < 0.06 < aug["diff_hi"].item() and aug["p"].item() < 0.05
    same = cells[(cells["regularizer"] == "aug") & (cells["metric"] == "id_accuracy")]
    assert np.allclose(same["diff"], -0.05) and np.allclose(same["diff_lo"], -0.05)  # equal differences
    assert cells.loc[cells["regularizer"] == "erm", "diff"].isna().all()
    suite = cells[(cells["benchmark"] == ALL_BENCHMARKS) & (cells["regularizer"] == "aug")]
    assert suite.loc[suite["metric"] == "ood_accuracy", "mean"].item() == pytest.approx(
        np.mean([0.65, 0.68, 0.66]) + 0.05
    )


def test_intervals_are_clipped_to_the_range_of_an_accuracy():
    values = {("a", 5, r, s): (acc, acc) for r in ("erm", "aug") for s, acc in enumerate((1.0, 0.9, 0.99))}
    values[("a", 5, "aug", 0)] = (0.0, 0.0)
    cells = budget_cells(_table(values), {"a.e5": ("a", 5)})
    assert cells["hi"].max() == 1.0 and cells["lo"].min() == 0.0
    assert cells["diff_lo"].min() == -1.0 and cells["diff_hi"].max() <= 1.0


def test_a_row_without_erm_at_its_budget_has_no_difference():
    values = {("a", 5, "aug", s): (0.5 + 0.01 * s, 0.8) for s in range(3)}
    values |= {("a", 10, "erm", s): (0.6, 0.9) for s in range(3)}
    cells = budget_cells(_table(values), {"a.e5": ("a", 5), "a.e10": ("a", 10)})
    assert cells.loc[cells["regularizer"] == "aug", "diff"].isna().all()
    text = budget_curve_markdown(cells, suite_epochs=10)
    assert "| 10 (suite) | erm | 3 | 60.0 [60.0, 60.0] |" in text and "| 5 | aug | 3 |" in text


@pytest.mark.usefixtures("one_thread")
def test_run_trains_the_curve_and_the_leaderboard_reports_it(write_suite, store_path, tmp_path, capsys, isolated_cache):
    path = write_suite(tiny_suite(budget_curve=CURVE))
    run = ["run", str(path), "--store", str(store_path), "--workers", "1", "--no-progress"]
    assert main(run) == 0
    out = capsys.readouterr().out
    assert "tiny: 4 runs planned, 4 runs to do, 0 reused" in out
    assert "tiny-budget (budget curve): 8 runs planned, 4 runs to do, 4 reused" in out
    board = tmp_path / "lb"
    assert main(["leaderboard", str(path), "--store", str(store_path), "--out", str(board), "--reps", "50"]) == 0
    readme = (board / "README.md").read_text()
    section = readme.split("## Budget curve (accuracy vs epochs)")[1]
    assert "| 2 (suite) | label_smoothing | 2 |" in section and "| 1 | erm | 2 |" in section
    assert "(budget_curve.png)" in readme and (board / "budget_curve.png").exists()
    ranked = readme.split("## Per benchmark")[0]
    assert "digits-noise.e1" not in ranked  # the curve's runs never join the ranking


def test_plot_draws_a_panel_per_benchmark_with_ood_and_id_lines():
    values = {(b, e, r, s): (0.5 + 0.01 * e, 0.8) for b in "ab" for e in (1, 2) for r in ("erm", "aug") for s in (0, 1)}
    cells = budget_cells(_table(values), {f"{b}.e{e}": (b, e) for b in "ab" for e in (1, 2)})
    fig = budget_curve_plot(cells, {"erm": "baseline", "aug": "augmentation"})
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert titles == ["a", "b", ALL_BENCHMARKS]
    labels = fig.legends[0].get_texts()
    assert [t.get_text() for t in labels] == ["erm OOD", "erm ID", "aug OOD", "aug ID"]
    assert budget_curve_plot(cells.iloc[0:0], {}) is None
