"""Cells that are not a plain "mean [lo, hi]": declared n/a pairs (through the CLI on a tiny
suite), worst-group "n/a (smallest group N)", row kinds, and intervals that never print as
x [x, x] unless every seed agreed."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sqlite3

import pandas as pd
import pytest
import yaml
from report_fixtures import make_frames
from rich.console import Console

from regbench.cli import main
from regbench.config import parse_suite
from regbench.harness.plan import load_suite, plan_suite
from regbench.report import build_leaderboard, render_terminal
from regbench.report.render import display
from regbench.report.table.aggregate import COLUMNS, aggregate
from regbench.report.table.not_applicable import MIN_GROUP_SIZE
from regbench.store import Store

REASON = "needs training environments; this benchmark has one"
L2 = {"name": "l2", "lam": 0.01}


def env_suite(declare: bool) -> dict:
    """colored_mnist (two training environments) + plain digits (none) × erm, irm, weight_decay,
    every row on a shared l2 base (like shift_baselines)."""
    plain = {
        "name": "plain",
        "dataset": "digits",
        "model": "mlp",
        "model_args": {"width": 16},
        "shift": {"kind": "covariate", "corruptions": ["gaussian_noise"], "severities": [5]},
    }
    if declare:
        plain["not_applicable"] = {"irm": REASON}
    return {
        "name": "na_tiny",
        "seeds": [0, 1],
        "train": {"epochs": 2, "batch_size": 64, "lr": 3e-3},
        "benchmarks": [
            {"name": "cm", "dataset": "digits", "model": "mlp", "model_args": {"width": 16}, "shift": "colored_mnist"},
            plain,
        ],
        "regularizers": [
            {"stack": [L2], "label": "erm"},
            {"stack": [L2, "irm"], "label": "irm"},
            {"stack": [L2, "weight_decay"], "label": "weight_decay"},
        ],
    }


def test_undeclared_pair_stops_the_suite_and_says_how_to_declare_it(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(env_suite(declare=False)))
    assert main(["validate", str(path)]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "'irm' cannot run on benchmarks[1] 'plain'" in line and "has 1" in line
    assert "declare benchmarks[1].not_applicable: [irm]" in line


@pytest.mark.parametrize(
    "declared,message",
    [
        ({"weight_decay": "x"}, "'weight_decay' can run on 'plain'; not_applicable is for pairs that cannot"),
        (["irn"], "no regularizer config of this suite is labelled 'irn'. Did you mean: irm?"),
        ([3], "a list of regularizer labels or a mapping label: reason"),
    ],
)
def test_a_bad_declaration_is_one_line(tmp_path, capsys, declared, message):
    suite = env_suite(declare=False)
    suite["benchmarks"][1]["not_applicable"] = declared
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert main(["validate", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_row_kinds_say_what_the_row_adds():
    plan = plan_suite(parse_suite(env_suite(declare=True)), "na.yaml")
    kinds = {r.regularizer.display: r.kind for r in plan.runs}
    # a shared l2 base: erm adds nothing, weight_decay adds an optimizer (not "penalty" / "recipe")
    assert kinds == {"erm": "baseline", "irm": "penalty", "weight_decay": "optimizer"}
    run = plan.runs[0]  # a row's kind describes the suite's row: not part of the run key
    assert dataclasses.replace(run, kind="recipe").run_key == dataclasses.replace(run, kind="").run_key
    shipped = {r.regularizer.display: r.kind for r in load_suite("shift_baselines").runs}
    assert shipped["erm"] == "baseline" and shipped["weight_decay"] == "optimizer"
    assert shipped["mixup"] == "augmentation" and shipped["group_dro"] == "loss"
    assert shipped["sam"] == "sharpness" and shipped["swad"] == "averaging"  # judged by their mechanism
    # no shared base: each row's own members; a mixed stack is a recipe; a lone l2 is a penalty
    plain = env_suite(declare=False)
    plain["benchmarks"] = plain["benchmarks"][:1]
    plain["regularizers"] = ["erm", "l2", ["weight_decay", "mixup"]]
    kinds = {r.regularizer.display: r.kind for r in plan_suite(parse_suite(plain), "p.yaml").runs}
    assert kinds == {"erm": "baseline", "l2": "penalty", "weight_decay+mixup": "recipe"}
    plain["regularizers"] = ["l2"]
    assert {r.kind for r in plan_suite(parse_suite(plain), "p.yaml").runs} == {"penalty"}


@pytest.fixture(scope="module")
def na_board(tmp_path_factory):
    """The tiny suite trained and published through the CLI (a dozen 1-second runs)."""
    root = tmp_path_factory.mktemp("na")
    mp = pytest.MonkeyPatch()
    mp.setenv("REGBENCH_CACHE", str(root / "cache"))
    path, store, out = root / "na.yaml", root / "s.sqlite", root / "lb"
    path.write_text(yaml.safe_dump(env_suite(declare=True)))
    base = ["--store", str(store)]
    assert main(["run", str(path), "--workers", "1", "--no-progress", *base]) == 0
    assert main(["leaderboard", str(path), "--out", str(out), "--no-plots", "--reps", "100", *base]) == 0
    mp.undo()
    return store, out


def test_declared_pair_is_not_trained_and_recorded_kinds_are_the_rows(na_board):
    store, _ = na_board
    db = sqlite3.connect(store)
    rows = db.execute("SELECT benchmark, regularizer, regularizer_kind FROM runs").fetchall()
    assert ("plain", "irm") not in {(b, r) for b, r, _ in rows} and len(rows) == 2 * 5
    assert {r: k for _, r, k in rows} == {"erm": "baseline", "irm": "penalty", "weight_decay": "optimizer"}


def test_na_cells_in_markdown_csv_json_tex_and_html(na_board):
    _, out = na_board
    readme = (out / "README.md").read_text()
    plain = readme.split("### plain")[1].split("##")[0]
    irm_row = next(line for line in plain.splitlines() if "| irm |" in line)
    assert irm_row.count("| n/a ") >= 5 and irm_row.startswith("| – | – | irm |")  # no rank range, no tier
    assert f"irm on plain ({REASON})" in readme and "n/a: the regularizer cannot run on that benchmark" in readme
    assert "cover only the benchmarks on which every row runs: cm. Left out: plain" in readme.split("| Rank")[0]
    with open(out / "leaderboard.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["benchmark"] == "plain" and r["regularizer"] == "irm")
    assert row["not_applicable"] == REASON and row["ood_accuracy"] == "" and row["id_accuracy_lo"] == ""
    doc = json.loads((out / "leaderboard.json").read_text())
    rows = {b["benchmark"]: {r["regularizer"]: r for r in b["rows"]} for b in doc["benchmarks"]}
    na = rows["plain"]["irm"]
    assert na["not_applicable"] == REASON and na["metrics"]["ood_accuracy"]["mean"] is None and na["rank"] is None
    assert rows["plain"]["erm"]["not_applicable"] is None
    assert "-- & irm & n/a & n/a" in (out / "leaderboard.tex").read_text()
    assert f'title="{REASON}">n/a</td>' in (out / "index.html").read_text()


def test_suite_columns_use_only_the_benchmarks_every_row_runs_on(na_board):
    _, out = na_board
    doc = json.loads((out / "leaderboard.json").read_text())
    main_rows = {r["regularizer"]: r for r in doc["main"]}
    cm = {r["regularizer"]: r for r in doc["benchmarks"][0]["rows"]}
    plain = {r["regularizer"]: r for r in doc["benchmarks"][1]["rows"]}
    assert doc["benchmarks"][0]["benchmark"] == "cm"
    for reg in ("erm", "irm", "weight_decay"):  # the suite mean is cm's number, for every row alike
        assert main_rows[reg]["metrics"]["ood_accuracy"]["mean"] == pytest.approx(
            cm[reg]["metrics"]["ood_accuracy"]["mean"], abs=1e-6
        )
        assert main_rows[reg]["seeds"] == 2 and main_rows[reg]["metrics"]["mean_rank"]["n"] == 1
    # without the restriction erm's mean would average cm and plain
    both = (cm["erm"]["metrics"]["ood_accuracy"]["mean"] + plain["erm"]["metrics"]["ood_accuracy"]["mean"]) / 2
    assert main_rows["erm"]["metrics"]["ood_accuracy"]["mean"] != pytest.approx(both, abs=1e-4)
    assert main_rows["erm"]["kind"] == "baseline"
    assert any("Left out: plain" in c for c in doc["caveats"])


def test_terminal_shows_the_caveat_and_the_tiers(na_board):
    store, out = na_board
    lb_json = json.loads((out / "leaderboard.json").read_text())
    runs, metrics, _ = Store(str(store), readonly=True).frames("na_tiny")
    lb = aggregate(runs, metrics, lb_json["suite"], reps=50)
    console = Console(width=200, record=True, file=io.StringIO())
    render_terminal(lb, console)
    text = console.export_text()
    assert "Left out: plain" in text.split("Regularizer")[0]  # said above the table
    for rec in lb.main[lb.main["tier"] != ""].to_dict("records"):
        line = next(ln for ln in text.splitlines() if f" {rec['regularizer']} " in ln)
        lo, hi = int(rec["rank"]), int(rec["rank_hi"])
        assert line.split()[:2] == [str(lo) if lo == hi else f"{lo}–{hi}", rec["tier"]]


def _small_groups(n_small: int):
    """Synthetic records: bench00 has worst-group accuracy (groups of 50), bench02's OOD splits
    have a smallest group of ``n_small`` examples and no worst-group accuracy."""
    runs, metrics, rel, suite = make_frames(n_benchmarks=4, regularizers=["erm", "mixup", "dropout"], seed=1)
    ood = metrics[(metrics["metric"] == "accuracy") & metrics["split"].str.startswith("ood/")]
    bench = ood["run_key"].str.split("|").str[0]
    extra = []
    for name, size in (("bench00-covariate", 50), ("bench02-spurious", n_small)):
        sel = ood[bench == name]
        extra.append(sel.assign(metric="smallest_group", value=float(size)))
        if size >= MIN_GROUP_SIZE:
            extra.append(sel.assign(metric="worst_group_accuracy", value=sel["value"] - 0.2))
    # a second OOD split with a smaller group: N is the minimum over the benchmark's OOD splits
    first = extra[-1].iloc[:1].assign(value=float(n_small + 3))
    return runs, pd.concat([metrics, *extra, first], ignore_index=True), rel, suite


def test_worst_group_shows_the_smallest_group_where_groups_are_too_small(tmp_path):
    runs, metrics, rel, suite = _small_groups(4)
    lb = build_leaderboard(runs, metrics, rel, suite, tmp_path, reps=50, plots=False)
    readme = (tmp_path / "README.md").read_text()
    spur = readme.split("### bench02-spurious")[1].split("###")[0]
    assert spur.count("| n/a (smallest group 4) |") == 3  # one per regularizer
    cov = readme.split("### bench00-covariate")[1].split("###")[0]
    assert "smallest group" not in cov and "n/a" not in cov  # reported there: numbers
    # bench01 records no groups at all: a plain "–", not n/a
    other = readme.split("### bench01-label")[1].split("###")[0]
    assert "smallest group" not in other
    assert "worst-group accuracy is recorded only where every group of an OOD split has at least 20" in readme
    assert "Worst-group at suite level averages only the benchmarks where it is reported (bench00-covariate)" in readme
    doc = json.loads((tmp_path / "leaderboard.json").read_text())
    row = next(b for b in doc["benchmarks"] if b["benchmark"] == "bench02-spurious")["rows"][0]
    assert row["smallest_group"] == 4 and row["metrics"]["worst_group_accuracy"]["mean"] is None
    assert "n/a (smallest group 4)" in (tmp_path / "leaderboard.tex").read_text()
    assert lb.per_benchmark.loc[lb.per_benchmark["benchmark"] == "bench00-covariate", "smallest_group"].eq(50).all()


def test_worst_group_column_stays_when_no_benchmark_reports_it(tmp_path):
    runs, metrics, rel, suite = _small_groups(4)
    metrics = metrics[~metrics["run_key"].str.startswith("bench00") | (metrics["metric"] != "worst_group_accuracy")]
    lb = aggregate(runs, metrics, suite, reps=50)
    assert "worst_group_accuracy" in [c.key for c in lb.columns]
    header, rows = display.display_rows(lb, lb.main, "suite")
    col = header.index("Worst-group")
    assert {r[col] for r in rows} == {"n/a (smallest group 4)"}


def test_min_group_size_matches_the_evaluator():
    from regbench.evaluate.classify import MIN_GROUP_SIZE as EVALUATOR

    assert MIN_GROUP_SIZE == EVALUATOR


def _col(key):
    return next(c for c in COLUMNS if c.key == key)


def test_intervals_never_print_as_one_number_unless_they_are_one():
    acc, poi, cost = _col("ood_accuracy"), _col("poi_vs_erm"), _col("cost_vs_erm")
    # a real interval that rounds to one number gets the decimals that tell its bounds apart
    rec = {"regularizer": "mixup", "ood_accuracy": 0.7962, "ood_accuracy_lo": 0.7960, "ood_accuracy_hi": 0.7964}
    assert display.cell_text(acc, rec) == "79.62 [79.60, 79.64]"
    # every seed the same value: a true zero-width interval is printed as it is
    rec = {"regularizer": "mixup", "ood_accuracy": 1.0, "ood_accuracy_lo": 1.0, "ood_accuracy_hi": 1.0}
    assert display.cell_text(acc, rec) == "100.0 [100.0, 100.0]"
    # a bootstrap column whose every resample agreed: the point and ‡, no interval
    rec = {"regularizer": "mixup", "poi_vs_erm": 1.0, "poi_vs_erm_lo": 1.0, "poi_vs_erm_hi": 1.0}
    assert display.cell_text(poi, rec) == "1.00‡"
    # erm's cost vs itself is 1 by definition: no interval
    rec = {"regularizer": "erm", "cost_vs_erm": 1.0, "cost_vs_erm_lo": 1.0, "cost_vs_erm_hi": 1.0}
    assert display.cell_text(cost, rec) == "1.00"
    rec = {"regularizer": "mixup", "cost_vs_erm": 1.2, "cost_vs_erm_lo": 1.1, "cost_vs_erm_hi": 1.3}
    assert display.cell_text(cost, rec) == "1.20 [1.10, 1.30]"


def test_no_published_cell_is_a_zero_width_bootstrap_interval(tmp_path):
    runs, metrics, rel, suite = make_frames(n_benchmarks=2, regularizers=["erm", "mixup", "dropout"], seed=2)
    build_leaderboard(runs, metrics, rel, suite, tmp_path, reps=50, plots=False)
    readme = (tmp_path / "README.md").read_text()
    for line in readme.splitlines():
        for cell in line.split("|"):
            parts = cell.replace("[", " ").replace("]", " ").replace(",", " ").split()
            if len(parts) == 3 and parts[0] == parts[1] == parts[2]:
                pytest.fail(f"zero-width interval printed: {cell.strip()!r} in {line!r}")
    assert "| erm | baseline |" in readme


def test_records_of_a_declared_pair_are_ignored_and_no_common_benchmark_leaves_suite_cells_na(tmp_path):
    # mixup was recorded on bench00 before the suite declared it n/a there; dropout is n/a on bench01
    runs, metrics, rel, suite = make_frames(n_benchmarks=2, regularizers=["erm", "mixup", "dropout"], seed=3)
    suite["benchmarks"][0]["not_applicable"] = {"mixup": "why a"}
    suite["benchmarks"][1]["not_applicable"] = {"dropout": ""}
    lb = build_leaderboard(runs, metrics, rel, suite, tmp_path, reps=50, plots=False)
    cells = lb.per_benchmark.set_index(["benchmark", "regularizer"])
    assert cells.loc[("bench00-covariate", "mixup"), "not_applicable"] == "why a"
    assert cells.loc[("bench00-covariate", "mixup"), "seeds"] == 0  # its records are not averaged
    assert cells.loc[("bench01-label", "dropout"), "not_applicable"] == "declared not applicable in the suite"
    assert cells.loc[("bench01-label", "mixup"), "seeds"] == 3
    header, rows = display.display_rows(lb, lb.main, "suite")
    metric_cells = {c for r in rows for c in r[header.index("Kind") + 1 : header.index("Seeds")]}
    assert metric_cells == {"n/a"}  # no benchmark on which every row runs: nothing to average
    assert any("every row runs: none" in c for c in lb.caveats)
