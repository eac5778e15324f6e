"""Each row's paired difference to erm: read off the pair tests at erm's column, with its own interval."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from regbench.report.render.versus_baseline import section
from regbench.report.table.paired_cells import PairTests
from regbench.report.table.versus_baseline import versus_baseline


def pairs_of(regs, diff_vs_first, se, df, p):
    """PairTests of rows ``regs`` whose row i − row 0 is diff_vs_first[i] (antisymmetric matrices)."""
    k = len(regs)
    d = np.subtract.outer(diff_vs_first, diff_vs_first)
    full = lambda v: np.full((k, k), v, dtype=float)  # noqa: E731
    return PairTests(
        list(regs), np.zeros(k), d, full(se), full(df), full(p), full(False).astype(bool),
        ["a"] * k, np.ones(k), np.full(k, k), 3, np.nan, True,
    )  # fmt: skip


def test_difference_interval_and_sign_against_erm():
    t = pairs_of(["erm", "augmix", "sam"], np.array([0.0, 0.02, -0.01]), se=0.005, df=4.0, p=0.03)
    vs = versus_baseline({"ood_accuracy": {"digits-c": t}}, 0.95)
    row = vs.set_index("regularizer").loc["augmix"]
    half = stats.t.ppf(0.975, 4.0) * 0.005
    assert row["difference"] == pytest.approx(0.02)  # row minus erm, not erm minus row
    assert (row["lo"], row["hi"]) == pytest.approx((0.02 - half, 0.02 + half))
    assert vs.set_index("regularizer").loc["sam", "difference"] == pytest.approx(-0.01)
    assert "erm" not in set(vs["regularizer"])


def test_no_erm_no_rows_and_the_section_marks_one_comparison():
    assert versus_baseline(
        {"ood_accuracy": {"b": pairs_of(["a", "b"], np.array([0.0, 0.1]), 0.01, 3.0, 0.5)}}, 0.95
    ).empty
    t = pairs_of(["erm", "augmix"], np.array([0.0, 0.02]), se=0.005, df=np.inf, p=0.001)
    lines = section(versus_baseline({"ood_accuracy": {"digits-c": t}}, 0.95), ["digits-c"], ["augmix", "erm"], 0.95)
    half = 100 * stats.norm.ppf(0.975) * 0.005
    assert f"| augmix | +2.0 [+{2 - half:.1f}, +{2 + half:.1f}]* |" in lines
    assert section(None, ["digits-c"], ["erm"], 0.95) == []
