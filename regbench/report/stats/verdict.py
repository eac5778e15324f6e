"""An honest verdict on a paired comparison of a new regularizer with a baseline (no torch).

Runs are paired by (benchmark, seed): the same seed gives both regularizers the same split,
initialization seed and batch order, so the per-pair difference removes most seed-to-seed
noise. The difference and its 95% Student-t interval come from
:func:`regbench.report.stats.paired.paired_difference`, the one implementation the leaderboard
uses too. ``compare`` tests one hypothesis per benchmark plus the overall row, so a claim
also needs to survive Holm-Bonferroni across those tests (:func:`regbench.report.stats.paired.holm`):
``win`` only if the difference is significant after the correction in the new regularizer's
favour, ``loss`` if it is significant against it, else ``inconclusive``. The verdict never
claims more than the interval.
"""

from __future__ import annotations

import math

from regbench.report.stats.estimate import Estimate


def verdict(diff: Estimate, higher_is_better: bool = True, significant: bool | None = None) -> str:
    """``win`` / ``loss`` / ``inconclusive`` for the new regularizer from a paired difference.

    ``significant``: the multiple-comparison decision (Holm) for this test; None = use the
    interval alone (a single test). Either way the interval must exclude 0.
    """
    lo, hi = (diff.lo, diff.hi) if higher_is_better else (-diff.hi, -diff.lo)
    if diff.n < 2 or significant is False:
        return "inconclusive"
    if lo > 0:
        return "win"
    if hi < 0:
        return "loss"
    return "inconclusive"


def worse(diff: Estimate, higher_is_better: bool, significant: bool | None = None) -> bool:
    """Whether the new regularizer is significantly worse on this metric."""
    return verdict(diff, higher_is_better, significant) == "loss"


def verdict_line(
    metric: str,
    against: str,
    diff: Estimate,
    higher_is_better: bool = True,
    scale: float = 100.0,
    unit: str = " pts",
    significant: bool | None = None,
    tests: int = 1,
) -> str:
    """One sentence: verdict, the difference with its CI, its (Holm) decision, and why."""
    v = verdict(diff, higher_is_better, significant)
    if diff.n < 2:
        return (
            f"{v} vs {against}: {metric} — only {diff.n} paired run(s) finished; a confidence interval needs at least 2"
        )
    m, lo, hi = diff.mean * scale, diff.lo * scale, diff.hi * scale
    ci = f"{diff.level:.0%} CI [{lo:+.2f}, {hi:+.2f}]"
    excludes = lo > 0 or hi < 0
    if v == "inconclusive" and excludes:
        why = f"excludes 0, but not significant after Holm-Bonferroni over {tests} tests (p = {diff.p_value:.3f})"
    elif v == "inconclusive":
        why = "includes 0: no claim either way"
    elif v == "win":
        why = "excludes 0 in favour of the new regularizer"
    else:
        why = "excludes 0 against the new regularizer"
    if v != "inconclusive" and tests > 1 and not math.isnan(diff.p_value):
        why += f", significant after Holm-Bonferroni over {tests} tests (p = {diff.p_value:.3f})"
    better = "" if higher_is_better else " (lower is better)"
    return f"{v} vs {against}: {metric}{better} {m:+.2f}{unit}, {ci} {why} (n={diff.n} paired runs)"
