"""Paired differences, CIs, probability of improvement and verdicts on constructed records."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regbench.report.compare import OVERALL, build_sections
from regbench.report.render.compare_report import render
from regbench.report.stats import Estimate, paired_difference
from regbench.report.stats.verdict import verdict, verdict_line


def test_t_interval_is_stricter_than_three_positive_differences():
    d = paired_difference([0.51, 0.52, 0.53], [0.50, 0.50, 0.50])  # diffs .01 .02 .03: mean .02, sd .01
    assert verdict(d) == "inconclusive"  # three positive differences are not enough here


def test_win_loss_inconclusive():
    new, base = [0.80, 0.82, 0.81, 0.83], [0.70, 0.71, 0.72, 0.70]
    assert verdict(paired_difference(new, base)) == "win"
    assert verdict(paired_difference(base, new)) == "loss"
    assert verdict(paired_difference([0.8, 0.7, 0.9], [0.75, 0.8, 0.8])) == "inconclusive"
    # lower-is-better metrics (ECE): a negative difference is the win
    assert verdict(paired_difference([0.01, 0.02, 0.015], [0.10, 0.12, 0.11]), higher_is_better=False) == "win"
    # a multiple-comparison decision against the claim overrides an interval that excludes 0
    assert verdict(paired_difference(new, base), significant=False) == "inconclusive"


def test_too_few_pairs_never_win():
    d = paired_difference([0.9, math.nan], [0.1, 0.2])  # one pair survives
    assert d.n == 1 and verdict(d) == "inconclusive" and "at least 2" in verdict_line("OOD accuracy", "erm", d)
    assert paired_difference([], []).n == 0


def test_verdict_line_never_claims_past_the_ci():
    line = verdict_line("OOD accuracy", "erm", Estimate(0.05, -0.01, 0.11, 3, p_value=0.08))
    assert line.startswith("inconclusive") and "includes 0" in line
    held_back = verdict_line(
        "OOD accuracy", "erm", Estimate(0.05, 0.01, 0.09, 3, p_value=0.03), significant=False, tests=5
    )
    assert held_back.startswith("inconclusive") and "Holm-Bonferroni over 5 tests" in held_back


def records(values: dict[str, list[float]], bench="b", status=None):
    """Records with OOD accuracy = value and ID accuracy = value + 0.1, one per seed."""
    out = []
    for reg, vals in values.items():
        for seed, v in enumerate(vals):
            st = (status or {}).get((reg, seed), "ok")
            out.append(
                {
                    "benchmark": bench,
                    "regularizer": reg,
                    "seed": seed,
                    "status": st,
                    "run_key": f"{reg}{seed}",
                    "metrics": {
                        "test_id": {"accuracy": v + 0.1, "ece": 0.05},
                        "ood/a": {"accuracy": v, "ece": 0.1},
                        "ood/b": {"accuracy": v, "ece": 0.2},
                    },
                }
            )
    return out


def test_sections_on_constructed_records_win_against_erm_loss_against_best():
    recs = records(
        {
            "new": [0.60, 0.61, 0.62, 0.61],
            "erm": [0.50, 0.50, 0.52, 0.51],
            "mixup": [0.70, 0.72, 0.71, 0.70],
            "l2": [0.55, 0.65, 0.50, 0.70],
        }
    )
    secs = build_sections(recs, "new", ["erm", "mixup", "l2"], ["b"], [0, 1, 2, 3])
    b, overall = secs
    assert overall.name == OVERALL and b.best_baseline == "mixup"
    assert b.verdicts == {"erm": "win", "mixup": "loss"}
    assert b.poi["erm"] == 1.0 and b.poi["mixup"] == 0.0
    assert b.means["new"]["ood_accuracy"] == pytest.approx(0.61) and b.means["new"]["ece_ood"] == pytest.approx(0.15)
    text = render(secs, "new")
    assert "**Verdict:** win vs erm: OOD accuracy +10.25 pts" in text
    assert "**Verdict:** loss vs best baseline (mixup)" in text


def test_the_best_baseline_is_picked_on_validation_never_on_the_test_numbers():
    """mixup has the best test numbers, l2 the best validation accuracy: l2 is the opponent (a
    pick by test means favours the picked row by its own selection)."""
    recs = records(
        {"new": [0.60, 0.61, 0.62], "erm": [0.50, 0.50, 0.52], "mixup": [0.70, 0.72, 0.71], "l2": [0.6, 0.6, 0.6]}
    )
    val = {"new": 0.8, "erm": 0.7, "mixup": 0.75, "l2": 0.9}
    for r in recs:
        r["metrics"]["val"] = {"accuracy": val[r["regularizer"]]}
    sec = build_sections(recs, "new", ["erm", "mixup", "l2"], ["b"], [0, 1, 2])[0]
    assert sec.best_baseline == "l2" and set(sec.verdicts) == {"erm", "l2"}
    for r in recs:  # without validation numbers (old records): the primary metric's means
        del r["metrics"]["val"]
    assert build_sections(recs, "new", ["erm", "mixup", "l2"], ["b"], [0, 1, 2])[0].best_baseline == "mixup"


def test_inconclusive_and_failed_runs_drop_their_pairs():
    recs = records({"new": [0.6, 0.5, 0.7], "erm": [0.55, 0.6, 0.6]}, status={("new", 2): "diverged"})
    sec = build_sections(recs, "new", ["erm"], ["b"], [0, 1, 2])[0]
    assert sec.verdicts == {"erm": "inconclusive"} and sec.diffs["erm"]["ood_accuracy"].n == 2
    assert sec.not_ok == {"new": 1, "erm": 0}
    assert "| new (new) |" in render([sec], "new") and "| 1 |" in render([sec], "new")


def test_overall_pools_benchmarks_and_picks_the_overall_best_baseline():
    recs = records({"new": [0.6, 0.61], "erm": [0.5, 0.5], "mixup": [0.9, 0.9]}, bench="x") + records(
        {"new": [0.6, 0.61], "erm": [0.5, 0.52], "mixup": [0.4, 0.4]}, bench="y"
    )
    x, y, overall = build_sections(recs, "new", ["erm", "mixup"], ["x", "y"], [0, 1])
    assert (x.best_baseline, y.best_baseline, overall.best_baseline) == ("mixup", "erm", "mixup")
    assert overall.diffs["erm"]["ood_accuracy"].n == 4 and overall.verdicts["erm"] == "win"


def _records_from(acc: dict, ece: dict, benches) -> list[dict]:
    """One record per (benchmark, regularizer, seed) with the given OOD accuracy and OOD ECE."""
    out = []
    for bi, bench in enumerate(benches):
        for reg, vals in acc.items():
            for seed, v in enumerate(vals[bi]):
                m = {"test_id": {"accuracy": v, "ece": 0.05}, "ood/a": {"accuracy": v, "ece": ece[reg][bi][seed]}}
                out.append({"benchmark": bench, "regularizer": reg, "seed": seed, "status": "ok", "metrics": m})
    return out


def test_holm_holds_back_a_win_that_one_test_alone_would_claim():
    benches = ["b0", "b1", "b2", "b3"]
    g = np.random.default_rng(3)
    erm = [list(0.7 + 0.01 * g.standard_normal(3)) for _ in benches]
    # on b0 alone the new regularizer is ahead by a margin whose unadjusted p is ~0.03
    ahead = [e + d for e, d in zip(erm[0], [0.010, 0.020, 0.014])]
    new = [ahead, [e + d for e, d in zip(erm[1], [0.01, -0.01, 0.0])], erm[2], erm[3]]
    flat = {"new": [[0.1] * 3] * 4, "erm": [[0.1] * 3] * 4}
    secs = build_sections(_records_from({"new": new, "erm": erm}, flat, benches), "new", ["erm"], benches, [0, 1, 2])
    b0 = secs[0].diffs["erm"]["ood_accuracy"]
    assert b0.lo > 0 and b0.p_value < 0.05  # alone it would be a win …
    assert secs[0].verdicts["erm"] == "inconclusive"  # … but not after Holm across 5 tests
    assert "not significant after Holm-Bonferroni over 5 tests" in secs[0].lines["erm"]


def test_a_win_with_a_calibration_regression_says_both():
    benches = ["b0"]
    acc = {"new": [[0.80, 0.82, 0.81, 0.80]], "erm": [[0.70, 0.71, 0.70, 0.72]]}
    ece = {"new": [[0.40, 0.42, 0.38, 0.41]], "erm": [[0.05, 0.06, 0.05, 0.07]]}
    secs = build_sections(_records_from(acc, ece, benches), "new", ["erm"], benches, [0, 1, 2, 3])
    assert secs[0].verdicts["erm"] == "win"
    assert len(secs[0].harms["erm"]) == 1 and secs[0].harms["erm"][0].startswith("OOD ECE +34.50 pts")
    text = render(secs, "new")
    assert "**Significantly worse than erm** (Holm-corrected): OOD ECE +34.50 pts" in text


def test_no_true_difference_rarely_prints_a_win():
    """Under the null, Holm keeps 'any win vs erm' per comparison near alpha / 2 (was 10.5%)."""
    benches, seeds = ["b0", "b1", "b2", "b3"], [0, 1, 2]
    g = np.random.default_rng(0)
    wins = 0
    trials = 300
    for _ in range(trials):
        acc = {reg: [list(0.7 + 0.02 * g.standard_normal(3)) for _ in benches] for reg in ("new", "erm")}
        ece = {reg: [[0.1] * 3] * 4 for reg in acc}
        secs = build_sections(_records_from(acc, ece, benches), "new", ["erm"], benches, seeds)
        wins += any(s.verdicts["erm"] == "win" for s in secs)
    assert wins / trials <= 0.04
