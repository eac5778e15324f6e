"""Paired differences, CIs, probability of improvement and verdicts on constructed records."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regbench.report.compare_report import OVERALL, build_sections, render
from regbench.report.verdict import (
    PairedDiff,
    paired_difference,
    probability_of_improvement,
    t_quantile_975,
    verdict,
    verdict_line,
)


def test_t_interval_by_hand():
    d = paired_difference([0.51, 0.52, 0.53], [0.50, 0.50, 0.50])  # diffs .01 .02 .03: mean .02, sd .01
    half = 4.303 * 0.01 / math.sqrt(3)
    assert (d.mean, d.lo, d.hi, d.n) == pytest.approx((0.02, 0.02 - half, 0.02 + half, 3))
    assert verdict(d) == "inconclusive"  # three positive differences are not enough here …
    boot = paired_difference([0.51, 0.52, 0.53], [0.5] * 3, np.random.default_rng(0), method="bootstrap")
    assert boot.lo > 0  # … although a percentile bootstrap would have called it a win


def test_win_loss_inconclusive():
    new, base = [0.80, 0.82, 0.81, 0.83], [0.70, 0.71, 0.72, 0.70]
    assert verdict(paired_difference(new, base)) == "win"
    assert verdict(paired_difference(base, new)) == "loss"
    assert verdict(paired_difference([0.8, 0.7, 0.9], [0.75, 0.8, 0.8])) == "inconclusive"
    # lower-is-better metrics (ECE): a negative difference is the win
    assert verdict(paired_difference([0.01, 0.02, 0.015], [0.10, 0.12, 0.11]), higher_is_better=False) == "win"


def test_too_few_pairs_never_win():
    d = paired_difference([0.9, math.nan], [0.1, 0.2])  # one pair survives
    assert d.n == 1 and verdict(d) == "inconclusive" and "at least 2" in verdict_line("OOD accuracy", "erm", d)
    assert paired_difference([], []).n == 0


def test_bootstrap_is_seeded_and_needs_a_generator():
    a, b = np.linspace(0, 1, 20), np.linspace(0, 1, 20) ** 2
    one = paired_difference(a, b, np.random.default_rng(7), method="bootstrap", reps=2000)
    two = paired_difference(a, b, np.random.default_rng(7), method="bootstrap", reps=2000)
    assert one == two and one.lo < one.mean < one.hi
    with pytest.raises(ValueError, match="seeded numpy Generator"):
        paired_difference(a, b, method="bootstrap")
    with pytest.raises(ValueError, match=r"\(n,\)"):
        paired_difference([1, 2], [1, 2, 3])


def test_t_quantiles_are_conservative_between_table_rows():
    assert t_quantile_975(2) == 4.303 and t_quantile_975(35) == t_quantile_975(30) > t_quantile_975(40)
    assert t_quantile_975(0) == math.inf


def test_probability_of_improvement():
    assert probability_of_improvement([3, 4], [1, 2]) == 1.0
    assert probability_of_improvement([1, 2], [3, 4]) == 0.0
    assert probability_of_improvement([1, 3], [2, 2]) == 0.5
    assert probability_of_improvement([2], [2]) == 0.5  # ties count half


def test_verdict_line_never_claims_past_the_ci():
    line = verdict_line("OOD accuracy", "erm", PairedDiff(0.05, -0.01, 0.11, 3))
    assert line.startswith("inconclusive") and "includes 0" in line


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
