"""`regbench compare`: reuses every stored baseline run, trains only the new regularizer, reports."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

from plugin_registry import clean_registry  # noqa: F401  (autouse fixture)

from regbench.cli import main
from regbench.store import Store

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SUITE = textwrap.dedent("""
    name: cmp
    seeds: [0, 1]
    train: {epochs: 2, batch_size: 128, lr: 0.01}  # enough to learn: a chance-level run is collapsed
    benchmarks:
      - {name: d, dataset: digits, model: mlp, model_args: {width: 16},
         shift: {kind: covariate, corruptions: [gaussian_noise], severities: [3]}}
    regularizers: [erm, label_smoothing]
""")


def rows(store):
    db = sqlite3.connect(store)
    out = {r[0]: r for r in db.execute("SELECT run_key, regularizer, status, created_at, submission FROM runs")}
    db.close()
    return out


def test_compare_reuses_baselines_and_marks_the_submission(tmp_path):
    suite, store, out = tmp_path / "cmp.yaml", tmp_path / "s.sqlite", tmp_path / "lb"
    suite.write_text(SUITE)
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    before = rows(store)
    assert len(before) == 4
    args = [
        "compare",
        f"{EXAMPLES}/spectral_decoupling.py:SpectralDecoupling",
        "--suite",
        str(suite),
        "--param",
        "lam=0.3",
        "--store",
        str(store),
        "--workers",
        "1",
        "--out",
        str(out),
        "--no-leaderboard",
        "--no-progress",
    ]
    assert main(args) == 0
    after = rows(store)
    assert {k: after[k] for k in before} == before  # not retrained: same rows, same created_at
    new = {k: r for k, r in after.items() if k not in before}
    assert len(new) == 2 and all(r[1] == "spectral_decoupling" and r[2] == "ok" and r[4] == 1 for r in new.values())
    assert all(r[4] == 0 for r in before.values())  # only the new runs are a submission
    (report_file,) = out.glob("compare-spectral_decoupling-*.md")  # named by the submission's identity
    report = report_file.read_text()
    assert "4 baseline runs of which 4 were reused from the store and 0 trained now" in report
    assert "## Benchmark d" in report and "## Overall" in report and report.count("**Verdict:**") >= 2
    assert "(parameters: lam=0.3)" in report
    # the comparison's rows (baselines and the new one, flagged) are its own; the suite's are untouched
    namespace = f"cmp/compare/{report_file.stem.removeprefix('compare-')}"
    runs, _, _ = Store(store).frames(namespace)
    flagged = runs[runs["regularizer"] == "spectral_decoupling"]
    others = runs[~runs.index.isin(flagged.index)]
    assert len(flagged) == 2 and flagged["submission"].all() and not others["submission"].any()
    assert len(others) == 4 and set(others["run_key"]) == set(before)
    suite_rows, _, _ = Store(store).frames("cmp")
    assert set(suite_rows["run_key"]) == set(before)
    # a second compare trains nothing at all
    assert main(args) == 0
    assert rows(store) == after


def test_compare_with_worker_processes_reimports_the_plugin_file(tmp_path):
    suite, store = tmp_path / "cmp.yaml", tmp_path / "s.sqlite"
    suite.write_text(SUITE.replace("seeds: [0, 1]", "seeds: [0, 1]").replace("[erm, label_smoothing]", "[erm]"))
    code = main(
        [
            "compare",
            f"{EXAMPLES}/input_gradient.py:InputGradientPenalty",
            "--suite",
            str(suite),
            "--store",
            str(store),
            "--workers",
            "2",
            "--out",
            str(tmp_path / "lb"),
            "--no-leaderboard",
            "--no-progress",
        ]
    )
    recs = Store(store).records()
    assert code == 0, [r["error"] for r in recs]
    assert sorted((r["regularizer"], r["status"]) for r in recs) == [("erm", "ok")] * 2 + [("input_gradient", "ok")] * 2


def test_compare_refuses_a_config_identical_to_a_baseline_and_a_clashing_name(tmp_path, capsys):
    suite, store = tmp_path / "cmp.yaml", tmp_path / "s.sqlite"
    suite.write_text(SUITE)
    base = ["--suite", str(suite), "--store", str(store), "--no-leaderboard"]
    assert main(["compare", "label_smoothing", "--name", "ls", *base]) == 1
    assert "is the baseline 'label_smoothing' (identical run keys)" in capsys.readouterr().err
    assert main(["compare", "label_smoothing", "--param", "smoothing=0.2", "--name", "erm", *base]) == 1
    assert "already called that" in capsys.readouterr().err
    assert main(["compare", "label_smoothing", "--param", "smoothing=oops", *base]) == 1
    assert "parameters of label_smoothing: smoothing: expected a valid number" in capsys.readouterr().err
    assert main(["compare", "label_smoothing", "--param", "smoothing", *base]) == 1
    assert "expected NAME=VALUE" in capsys.readouterr().err
    assert Store(store).count() == 0  # every refusal came before any training


def test_compare_knows_every_primary_metric():
    from regbench.config import PRIMARY_METRICS
    from regbench.report.compare import PRIMARY

    assert set(PRIMARY_METRICS) == set(PRIMARY)
