"""What one leaderboard cell shows when it is not a plain "mean [lo, hi]".

Every writer (markdown, csv/json, LaTeX, html, terminal) asks ``special`` first, so the
files cannot disagree on these cases:

- ``n/a``: the regularizer cannot run on the benchmark and the suite declares it
  (``not_applicable``); it was not trained there.
- ``n/a (smallest group N)``: worst-group accuracy is recorded only where every group of a
  split has ``MIN_GROUP_SIZE`` examples; N is the smallest group over the benchmark's OOD splits.
- erm's own cost vs erm is 1 by definition: the point, no interval.
- a bootstrap column whose every resample gave the same value: the point and ``ZERO_MARK``,
  no interval (a zero-width interval would claim a certainty the seeds do not give).

``interval_digits`` keeps a real interval from printing as ``x [x, x]`` by rounding: it adds
decimals until the bounds differ.
"""

from __future__ import annotations

import math

NA = "n/a"
ZERO_MARK = "‡"
# evaluate/classify.py's threshold (that module imports torch; tests/test_report_cells.py checks they agree)
MIN_GROUP_SIZE = 20
BASELINE = "erm"
# columns whose interval is a bootstrap percentile interval, not a Student-t over seeds
BOOTSTRAP_KEYS = ("cost_vs_erm", "mean_rank", "iqm", "poi_vs_erm")
MAX_EXTRA_DIGITS = 3


def _finite(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def smallest_group_text(n) -> str:
    return f"{NA} (smallest group {int(n)})"


def special(col, rec: dict) -> str | None:
    """The text of a cell that is not a number with an interval (n/a cases), else None."""
    if rec.get("not_applicable"):
        return NA
    if col.key == "worst_group_accuracy" and _finite(rec.get(col.key)) is None:
        n = _finite(rec.get("smallest_group"))
        if n is not None and n < MIN_GROUP_SIZE:
            return smallest_group_text(n)
    return None


def shown_interval(col, rec: dict) -> tuple[float | None, float | None, str]:
    """(lo, hi, mark) to print with the cell's mean: no interval for erm's own cost vs erm,
    nor for a zero-width bootstrap interval (then the mark says why)."""
    lo, hi = _finite(rec.get(col.key + "_lo")), _finite(rec.get(col.key + "_hi"))
    if lo is None or hi is None:
        return None, None, ""
    if col.key == "cost_vs_erm" and rec.get("regularizer") == BASELINE:
        return None, None, ""
    if col.key in BOOTSTRAP_KEYS and hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return None, None, ZERO_MARK
    return lo, hi, ""


def interval_digits(col, lo: float | None, hi: float | None) -> int:
    """Decimals that show ``lo`` and ``hi`` (fractions, before ``col.scale``) as different
    numbers when they are, up to ``MAX_EXTRA_DIGITS`` more than the column's own."""
    if lo is None or hi is None or hi <= lo:
        return col.digits
    for d in range(col.digits, col.digits + MAX_EXTRA_DIGITS + 1):
        if f"{lo * col.scale:.{d}f}" != f"{hi * col.scale:.{d}f}":
            return d
    return col.digits + MAX_EXTRA_DIGITS


def footnotes(lb) -> list[str]:
    """The footnotes of the marks above that this leaderboard uses (always the zero-width rule)."""
    notes = [
        f"An interval printed as x [x, x] means every seed gave the same value (for an accuracy also 0% or "
        f"100%, where the split's binomial error vanishes); a real interval that rounds to one number is "
        f"printed with more decimals. {ZERO_MARK}: a bootstrap column (cost vs erm, mean rank, IQM) "
        "whose every resample gave the same value: no interval is shown. erm's own cost vs erm is 1 by "
        "definition, without an interval."
    ]
    frames = [lb.main, lb.per_benchmark]
    if any("smallest_group" in f and (f["smallest_group"] < MIN_GROUP_SIZE).any() for f in frames):
        notes.append(
            f"{smallest_group_text(0).replace('0)', 'N)')}: worst-group accuracy is recorded only where every "
            f"group of an OOD split has at least {MIN_GROUP_SIZE} examples (below that one example moves a "
            "group's accuracy by 5 points or more); N is the smallest group over the benchmark's OOD splits."
        )
    return notes
