"""Leaderboard building: files agree, failures are visible, output is byte-stable."""

import ast
import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_fixtures import make_frames

from regbench.report import build_leaderboard, paired_comparison, render_terminal, run_table
from regbench.report.render.display import MISSING, SHORT_MARK

REPORT_DIR = Path(__file__).resolve().parents[1] / "regbench" / "report"
STATUSES = {
    ("bench00-covariate", "mixup", 1): "failed",
    ("bench01-label", "mixup", 2): "diverged",
    ("bench02-spurious", "erm", 0): "failed",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    frames = make_frames(statuses=STATUSES)
    out = tmp_path_factory.mktemp("lb")
    return build_leaderboard(*frames, out, reps=300), out, frames


def test_report_never_imports_torch():
    for path in sorted(REPORT_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for name in names:
                top = name.split(".")[0]
                assert top not in {"torch", "torchvision", "wilds", "datasets"}, f"{path.name} imports {name}"
                if top == "regbench":
                    assert name.startswith(("regbench.report", "regbench.seeding", "regbench.registry")), (
                        f"{path.name} imports {name}"
                    )


def _md_tables(text):
    """Every markdown table as (header, rows of cells)."""
    tables, cur = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if cur is None:
                cur = (cells, [])
                tables.append(cur)
            elif not set("".join(cells)) <= {"-"}:
                cur[1].append(cells)
        else:
            cur = None
    return tables


def _fmt(col, m, regularizer):
    if m["mean"] is None:
        return MISSING
    lo, hi, digits = m["lo"], m["hi"], col["digits"]
    if col["key"] == "cost_vs_erm" and regularizer == "erm":  # 1 by definition: no interval
        lo = hi = None
    bootstrap = col["key"] in ("cost_vs_erm", "mean_rank", "iqm", "poi_vs_erm")
    if lo is not None and bootstrap and lo == hi:  # every resample the same: the point and ‡
        return ("{:.%df}" % digits).format(m["mean"] * col["scale"]) + "‡"  # noqa: UP031
    # a real interval is never printed as x [x, x]: up to 3 more decimals until its bounds differ
    while lo is not None and lo < hi and digits < col["digits"] + 3:
        if ("{:.%df}" % digits).format(lo * col["scale"]) != ("{:.%df}" % digits).format(hi * col["scale"]):  # noqa: UP031
            break
        digits += 1
    f = "{:.%df}" % digits  # noqa: UP031 (builds a format string)
    s = f.format(m["mean"] * col["scale"])
    return s + (f" [{f.format(lo * col['scale'])}, {f.format(hi * col['scale'])}]" if lo is not None else "")


def _rank_text(r):
    lo, hi = int(r["rank"]), int(r["rank_hi"])
    return str(lo) if lo == hi else f"{lo}–{hi}"


def _expected_rows(doc, rows, scope):
    cols = [c for c in doc["columns"] if scope == "suite" or not c["suite_only"]]
    out = []
    for r in rows:
        seeds = str(r["seeds"]) + (SHORT_MARK if r["short_seeds"] else "")
        out.append(
            [_rank_text(r), r["tier"] or MISSING, r["regularizer"], r["kind"]]
            + [_fmt(c, r["metrics"][c["key"]], r["regularizer"]) for c in cols]
            + [seeds, str(r["failed"]), str(r["diverged"]), str(r["collapsed"])]
        )
    return out


def test_markdown_csv_json_agree(built):
    lb, out, _ = built
    doc = json.loads((out / "leaderboard.json").read_text())
    tables = _md_tables((out / "README.md").read_text())
    expected = [_expected_rows(doc, doc["main"], "suite")] + [
        _expected_rows(doc, b["rows"], "benchmark") for b in doc["benchmarks"]
    ]
    md, versus = tables[: len(expected)], tables[len(expected) :]
    assert [rows for _, rows in md] == expected
    # then "Paired differences to erm": one table per metric (primary, ID), a row per non-erm row
    vs = pd.read_csv(out / "vs_erm.csv")
    assert len(versus) == vs["metric"].nunique() == 2
    for (header, rows), (_, grp) in zip(versus, vs.groupby("metric", sort=False)):
        assert header[0] == "Regularizer" and len(header) == 1 + grp["benchmark"].nunique()
        assert sorted(r[0] for r in rows) == sorted(grp["regularizer"].unique())
    # CSV: every number equals the JSON number
    with open(out / "leaderboard.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    json_rows = [("", r) for r in doc["main"]] + [(b["benchmark"], r) for b in doc["benchmarks"] for r in b["rows"]]
    assert len(csv_rows) == len(json_rows)
    checked = 0
    for c, (bench, j) in zip(csv_rows, json_rows):
        assert (c["benchmark"], c["regularizer"]) == (bench, j["regularizer"])
        for key, m in j["metrics"].items():
            for part, suffix in (("mean", ""), ("lo", "_lo"), ("hi", "_hi"), ("n", "_n")):
                v = c[key + suffix]
                assert (v == "" and m[part] is None) or float(v) == m[part], (key, part)
                checked += 1
        assert int(c["failed"]) == j["failed"] and int(c["diverged"]) == j["diverged"]
        assert int(c["collapsed"]) == j["collapsed"]
    assert checked > 500


def test_failed_and_diverged_runs_are_counted_and_visible(built):
    lb, out, _ = built
    main = lb.main.set_index("regularizer")
    assert (main.loc["mixup", "failed"], main.loc["mixup", "diverged"]) == (1, 1)
    assert main.loc["erm", "failed"] == 1 and main.loc["dropout", "failed"] == 0
    assert main.loc["mixup", "short_seeds"] and not main.loc["dropout", "short_seeds"]
    header, rows = _md_tables((out / "README.md").read_text())[0]
    row = {r[2]: dict(zip(header, r)) for r in rows}
    assert (row["mixup"]["Failed"], row["mixup"]["Diverged"], row["mixup"]["Seeds"]) == ("1", "1", "2" + SHORT_MARK)
    assert row["dropout"]["Seeds"] == "3"
    cell = lb.per_benchmark.set_index(["benchmark", "regularizer"]).loc[("bench00-covariate", "mixup")]
    assert cell["seeds"] == 2 and cell["failed"] == 1 and cell["ood_accuracy_n"] == 2
    assert "failed, diverged and collapsed" in (out / "README.md").read_text().lower()
    assert "validation split only" in (out / "README.md").read_text()


def test_rebuild_is_byte_identical(built, tmp_path):
    lb, out, frames = built
    runs, metrics, rel, suite = frames
    # shuffled input rows must not change anything either
    shuffled = [f.sample(frac=1.0, random_state=1) for f in (runs, metrics, rel)]
    build_leaderboard(*shuffled, suite, tmp_path, reps=300)
    for name in lb.files:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_ranking_and_statistics_are_consistent(built):
    lb, _, _ = built
    m = lb.main
    assert m["rank"].iloc[0] == 1 and (m["rank"] <= m["rank_hi"]).all()
    assert np.all(np.diff(m["ood_accuracy"].to_numpy()) <= 0)  # sorted by mean
    for key in ("id_accuracy", "ood_accuracy", "iqm", "poi_vs_erm", "cost_vs_erm", "mean_rank"):
        has = m[key].notna()
        inside = (m[key + "_lo"] <= m[key] + 1e-12) & (m[key] <= m[key + "_hi"] + 1e-12)
        assert inside[has].all(), key
    erm = m.set_index("regularizer").loc["erm"]
    assert erm["cost_vs_erm"] == pytest.approx(1.0) and np.isnan(erm["poi_vs_erm"])  # shown as –
    assert np.allclose(m["ood_drop"], m["id_accuracy"] - m["ood_accuracy"])
    assert {"ood_acc_covariate", "ood_acc_label"} <= set(m.columns)


def test_plots_written_and_embedded(built):
    lb, out, _ = built
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == [
        "accuracy_vs_severity.png",
        "cost_vs_gain.png",
        "ece_vs_severity.png",
        "generalization_gap.png",
        "id_vs_ood.png",
        "reliability.png",
    ]
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") == 6
    assert "http://" not in html and "https://" not in html and "&lt;report&gt;" in html


def test_missing_plot_data_is_skipped_with_a_note(tmp_path):
    runs, metrics, rel, suite = make_frames(n_benchmarks=1, seeds=2, with_mia=False, with_reliability=False)
    lb = build_leaderboard(runs, metrics, rel, suite, tmp_path, reps=50)  # bench00 is covariate
    assert any("Reliability diagrams" in n and "skipped" in n for n in lb.notes)
    assert not (tmp_path / "reliability.png").exists()
    assert "mia_auc" not in [c.key for c in lb.columns]
    assert "skipped" in (tmp_path / "README.md").read_text()


def test_no_erm_and_hostile_names(tmp_path):
    runs, metrics, rel, suite = make_frames(n_benchmarks=2, regularizers=["mixup", "<b>x|y_z</b>"], seeds=2)
    lb = build_leaderboard(runs, metrics, rel, suite, tmp_path, reps=50)
    assert any("no 'erm'" in n for n in lb.notes)
    assert lb.main["poi_vs_erm"].isna().all()
    html = (tmp_path / "index.html").read_text()
    assert "<b>x" not in html and "&lt;b&gt;x|y_z&lt;/b&gt;" in html
    # in .tex, | < > are spelled out: the default OT1 encoding would set them as a dash, ¡ and ¿
    assert (
        r"x\|y" in (tmp_path / "README.md").read_text()
        and r"x\textbar{}y\_z" in (tmp_path / "leaderboard.tex").read_text()
    )


def test_bad_inputs_fail_clearly(tmp_path):
    runs, metrics, rel, suite = make_frames(n_benchmarks=1, seeds=2)
    with pytest.raises(ValueError, match="lacks columns"):
        build_leaderboard(runs.drop(columns=["status"]), metrics, rel, suite, tmp_path)
    with pytest.raises(ValueError, match="Did you mean: ood_accuracy"):
        build_leaderboard(runs, metrics, rel, suite | {"primary_metric": "ood_acuracy"}, tmp_path)
    with pytest.raises(ValueError, match="unknown run status"):
        build_leaderboard(runs.assign(status="crashed"), metrics, rel, suite, tmp_path)
    with pytest.raises(ValueError, match="no runs"):
        build_leaderboard(runs.iloc[:0], metrics, rel, suite, tmp_path)


def test_lower_is_better_primary_metric(tmp_path):
    runs, metrics, rel, suite = make_frames(n_benchmarks=2, seeds=2)
    lb = build_leaderboard(runs, metrics, rel, suite | {"primary_metric": "ece_ood"}, tmp_path, reps=50, plots=False)
    assert np.all(np.diff(lb.main["ece_ood"].to_numpy()) >= 0)
    assert lb.main["rank"].iloc[0] == 1


def test_effective_robustness_is_zero_on_the_line():
    from scipy.special import ndtr, ndtri

    runs, metrics, _, _ = make_frames(n_benchmarks=1, seeds=3)
    ids = metrics[(metrics["split"] == "test_id") & (metrics["metric"] == "accuracy")].set_index("run_key")["value"]
    ood = metrics["split"].str.startswith("ood/") & (metrics["metric"] == "accuracy")
    metrics.loc[ood, "value"] = ndtr(0.2 + 0.8 * ndtri(metrics.loc[ood, "run_key"].map(ids).to_numpy()))
    from regbench.report.table.aggregate import effective_robustness

    er, fits = effective_robustness(run_table(runs, metrics))
    assert np.allclose(er, 0, atol=1e-9)
    assert fits["bench00-covariate"]["slope"] == pytest.approx(0.8)


def test_paired_comparison(built):
    lb, _, _ = built
    d = paired_comparison(lb.runs_table, "mixup", "erm", "ood_accuracy")
    assert list(d["benchmark"]) == sorted(d["benchmark"])
    row = d.set_index("benchmark").loc["bench00-covariate"]
    assert row["n"] == 2  # mixup's seed 1 failed there
    assert row["diff_lo"] <= row["diff"] <= row["diff_hi"]
    with pytest.raises(ValueError, match="unknown metric"):
        paired_comparison(lb.runs_table, "mixup", "erm", "accuracy")


def test_render_terminal(built):
    from rich.console import Console

    lb, _, _ = built
    console = Console(record=True, width=250)
    render_terminal(lb, console)
    text = console.export_text()
    assert "mixup" + SHORT_MARK in text and "OOD acc" in text  # † : a failed seed
    assert math.isfinite(lb.main["ood_accuracy"].iloc[0])
    assert isinstance(lb.per_benchmark, pd.DataFrame)


def test_every_primary_metric_a_suite_may_declare_is_a_report_column():
    from regbench.config import PRIMARY_METRICS
    from regbench.report.table.aggregate import COLUMNS

    keys = {c.key for c in COLUMNS}
    assert set(PRIMARY_METRICS) <= keys


def test_cells_get_t_intervals_with_the_split_error(built):
    """A cell's interval is Student t over its seeds plus the split's binomial error."""
    from scipy import stats as scipy_stats

    lb, _, _ = built
    t = lb.runs_table
    ok = t[(t["status"] == "ok") & (t["benchmark"] == "bench01-label") & (t["regularizer"] == "dropout")]
    x = ok["id_accuracy"].to_numpy()
    binom = np.mean(x * (1 - x) / 500)  # test_id has 500 images in the fixture
    a = x.var(ddof=1) / len(x)
    df = (a + binom) ** 2 / (a**2 / (len(x) - 1))  # Welch-Satterthwaite, the binomial part known
    half = scipy_stats.t.ppf(0.975, df) * np.sqrt(a + binom)
    cell = lb.per_benchmark.set_index(["benchmark", "regularizer"]).loc[("bench01-label", "dropout")]
    assert (cell["id_accuracy_lo"], cell["id_accuracy_hi"]) == pytest.approx((x.mean() - half, x.mean() + half))
    # ECE has no binomial part: its interval is the seeds' t interval alone
    e = ok["ece_id"].to_numpy()
    e_half = scipy_stats.t.ppf(0.975, len(e) - 1) * e.std(ddof=1) / np.sqrt(len(e))
    assert cell["ece_id_hi"] - cell["ece_id"] == pytest.approx(e_half)


def test_equal_seeds_tiers_caveat_and_erm_dash(tmp_path):
    runs, metrics, rel, suite = make_frames(n_benchmarks=2, seeds=3)
    # every seed of erm gets the same ID accuracy: still no zero-width interval (the split's error)
    erm_id = metrics["run_key"].str.contains(r"\|erm\|") & (metrics["split"] == "test_id")
    metrics.loc[erm_id & (metrics["metric"] == "accuracy"), "value"] = 0.9
    lb = build_leaderboard(runs, metrics, rel, suite, tmp_path, reps=100, plots=False)
    erm = lb.per_benchmark[lb.per_benchmark["regularizer"] == "erm"]
    assert (erm["id_accuracy_lo"] < 0.9).all() and (erm["id_accuracy_hi"] > 0.9).all()
    text = (tmp_path / "README.md").read_text()
    header, rows = _md_tables(text)[0]
    row = {r[2]: dict(zip(header, r)) for r in rows}
    assert row["erm"]["P(>erm)"] == MISSING
    # fewer than 5 seeds: said above the table
    assert text.index("**Caveat:** Only 3 seed(s)") < text.index("| Rank |")
    # the README shows each row's rank range and tier letters as the frame holds them
    for r in lb.main.to_dict("records"):
        assert row[r["regularizer"]]["Rank"] == _rank_text(r)
        assert row[r["regularizer"]]["Tier"] == r["tier"]
