"""What every leaderboard writer shows: the text of a cell, a row and the notes under a table.

Every writer (markdown, csv/json, LaTeX, html, terminal) renders the same display cells
(``display_rows``, ``cell_text``) from the same frames, so the files cannot disagree. A cell
that is not a plain "mean [lo, hi]" is decided by ``special`` first:

- ``n/a``: the regularizer cannot run on the benchmark and the suite declares it
  (``not_applicable``); it was not trained there.
- ``collapsed``: every run of the cell collapsed (one predicted class, or chance train
  accuracy); they are counted, not averaged, so no number exists.
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

import numpy as np
import pandas as pd

from regbench.report.table.aggregate import Column, Leaderboard
from regbench.report.table.collapsed import COLLAPSED
from regbench.report.table.columns import BASELINE
from regbench.report.table.not_applicable import MIN_GROUP_SIZE, NA

MISSING = "–"  # shown where a number does not exist (no ok run, no erm, metric not recorded)
SHORT_MARK = "†"  # fewer ok seeds than the most any cell has
SUBMISSION_MARK = "*"  # a `regbench compare` submission, not a standard config
RANGE_DASH = "–"  # between a rank range's ends: "1–3"
COUNT_HEADERS = ["Seeds", "Failed", "Diverged", "Collapsed"]
ZERO_MARK = "‡"  # a bootstrap column whose every resample gave the same value
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
    if rec.get("collapsed") and not rec.get("seeds") and _finite(rec.get(col.key)) is None:
        return COLLAPSED  # no ok seed left a number: say why rather than "–"
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


def mark_footnotes(lb) -> list[str]:
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


def stable_number(x) -> float | None:
    """A JSON/CSV number: NaN becomes None, floats are rounded to 6 decimals (stable bytes)."""
    if x is None or (isinstance(x, float | np.floating) and not math.isfinite(x)):
        return None
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    return round(float(x), 6)


def fmt_estimate(col: Column, mean, lo=None, hi=None) -> str:
    """'91.2 [90.1, 92.3]' in the column's display units; MISSING when there is no mean."""
    m = stable_number(mean)
    if m is None:
        return MISSING
    lo, hi = stable_number(lo), stable_number(hi)
    f = f"{{:.{interval_digits(col, lo, hi)}f}}"
    text = f.format(m * col.scale)
    if lo is not None and hi is not None:
        text += f" [{f.format(lo * col.scale)}, {f.format(hi * col.scale)}]"
    return text


def cell_text(col: Column, rec: dict) -> str:
    """One cell as every text writer shows it: n/a cases (``special``), else 'mean [lo, hi]'."""
    text = special(col, rec)
    if text is not None:
        return text
    lo, hi, mark = shown_interval(col, rec)
    return fmt_estimate(col, rec[col.key], lo, hi) + (mark if stable_number(rec[col.key]) is not None else "")


def table_columns(lb: Leaderboard, scope: str) -> list[Column]:
    return [c for c in lb.columns if scope == "suite" or not c.suite_only]


def display_rows(lb: Leaderboard, frame: pd.DataFrame, scope: str) -> tuple[list[str], list[list[str]]]:
    """Header and text cells shared by every human-readable writer."""
    cols = table_columns(lb, scope)
    header = ["Rank", "Tier", "Regularizer", "Kind"] + [c.label for c in cols] + COUNT_HEADERS
    rows = []
    for rec in frame.to_dict("records"):
        name = str(rec["regularizer"]) + (SUBMISSION_MARK if rec.get("submission") else "") + _inactive(rec)
        seeds = str(int(rec["seeds"])) + (SHORT_MARK if rec["short_seeds"] else "")
        cells = [cell_text(c, rec) for c in cols]
        rows.append(
            [rank_text(rec), tier_text(rec), name, str(rec.get("kind") or "")]
            + cells
            + [seeds, str(int(rec["failed"])), str(int(rec["diverged"])), str(int(rec["collapsed"]))]
        )
    return header, rows


def rank_text(rec: dict) -> str:
    """A row's rank range: '1–3' (could rank anywhere from 1 to 3), '4' when the tests fix it, else MISSING."""
    lo, hi = stable_number(rec.get("rank")), stable_number(rec.get("rank_hi"))
    if lo is None:
        return MISSING
    return str(int(lo)) if hi is None or int(hi) == int(lo) else f"{int(lo)}{RANGE_DASH}{int(hi)}"


def tier_text(rec: dict) -> str:
    """A row's tier letters ('ab'): rows sharing a letter are not separated by the paired tests."""
    tier = rec.get("tier")
    return tier if isinstance(tier, str) and tier else MISSING


def resolution_text(lb: Leaderboard, bench: str) -> str | None:
    """'Detects OOD accuracy differences ≥ 1.2 points with 80% power at 3 seeds.' for one benchmark."""
    res = lb.resolution.get(bench)
    if not res or _finite(res.get("mdd")) is None:
        return None
    col = lb.primary
    unit = " points" if col.scale == 100 else ""
    digits = max(col.digits, 1)
    five = _finite(res.get("mdd_5_seeds"))
    more = f"; at 5 seeds ≥ {five * col.scale:.{digits}f}{unit}" if five is not None and res["seeds"] < 5 else ""
    return (
        f"Detects {col.label} differences ≥ {res['mdd'] * col.scale:.{digits}f}{unit} with 80% power "
        f"at {res['seeds']} seeds (one paired test, α = 0.05, as `compare` runs; the tiers' Holm-adjusted "
        f"tests over all pairs need larger differences){more}."
    )


def _inactive(rec: dict) -> str:
    """' (inactive)' on a benchmark row, ' (inactive on k/n)' on a suite row, else ''."""
    if rec.get("inactive") is True or rec.get("inactive") is np.True_:
        return " (inactive)"
    k = rec.get("inactive_on")
    return f" (inactive on {int(k)}/{int(rec['mechanism_on'])})" if k and not pd.isna(k) else ""


def benchmark_frames(lb: Leaderboard) -> list[tuple[str, pd.DataFrame]]:
    """(benchmark, its rows) in the suite's order, each with the regularizer's kind attached."""
    kinds = dict(zip(lb.main["regularizer"], lb.main["kind"]))
    subs = dict(zip(lb.main["regularizer"], lb.main["submission"]))
    out = []
    for bench, grp in lb.per_benchmark.groupby("benchmark", sort=False):
        grp = grp.assign(kind=grp["regularizer"].map(kinds), submission=grp["regularizer"].map(subs))
        out.append((str(bench), grp))
    return out


def footnotes(lb: Leaderboard) -> list[str]:
    """Every numbered note under the README's and the page's main table, in order."""
    pct = int(round(lb.level * 100))
    suite = lb.suite
    notes = [
        f"Ranked by {lb.primary.label} ({'higher' if lb.primary.higher_is_better else 'lower'} is better), "
        "the suite's primary metric; suite-level numbers are means over benchmarks.",
        f"Checkpoints and hyper-parameters were selected on the validation split only "
        f"({suite.get('selection', 'val_accuracy')}); test_id and OOD splits were evaluated once, after training.",
        f"Every per-benchmark number is a mean over ok seeds with its {pct}% interval [lo, hi]. Accuracies (ID, "
        "OOD, per family) with stored per-image predictions get a two-level interval over seeds and test images "
        "(clusters of one base image), which measures how far the OOD splits share their errors. Other "
        "accuracy-based columns (OOD drop, gap, effective robustness) add the binomial error p(1-p)/N to the "
        "seed spread. Suite-level means combine the benchmarks' variances (Welch-Satterthwaite df). ECE and "
        "MIA AUC carry the seed spread only.",
        f"IQM, mean rank and cost vs erm are not means over seeds: their {pct}% intervals are percentile "
        f"intervals of rliable's stratified bootstrap ({lb.reps} resamples of seeds within each benchmark, "
        f"seeded); they carry the seed spread only. P(>erm) has a {pct}% score interval for the Mann-Whitney "
        "probability (Newcombe 2006, continuity-corrected), which keeps a width when one side wins every "
        "pair; erm's own P(>erm) is shown as –. The t quantile of a mean with a binomial part takes "
        "Welch-Satterthwaite degrees of freedom, and every interval is clipped to its column's range "
        "(0-100 for accuracies, worst-group and ECE, 0-1 for MIA AUC and P(>erm)), which cannot lower coverage.",
        f"Rank and tier: rows are sorted by {lb.primary.label}. Every pair of rows is compared by a paired "
        "test on the same seeds and test images (Holm-corrected, α = 0.05; suite level: the benchmarks' paired "
        "differences averaged). Two rows share a tier letter exactly when the tests do not separate them; the "
        "rank range runs from 1 + the rows significantly better to the count of rows not significantly worse.",
        f"{SHORT_MARK}: fewer ok seeds than the other regularizers (Seeds = fewest ok seeds on any benchmark). "
        "Failed, diverged and collapsed runs are counted in their columns and excluded from the means.",
        f"{SUBMISSION_MARK}: a submitted regularizer (`regbench compare`), not one of the standard configs.",
    ]
    notes += mark_footnotes(lb)
    notes += [f"{c.label}: {c.help}." for c in lb.columns]
    return notes + list(lb.notes)


def half_width(col: Column, lo, hi) -> float | None:
    """Half the interval's width in display units, or None without an interval."""
    if lo is None or hi is None or lo != lo or hi != hi:  # NaN
        return None
    return (float(hi) - float(lo)) / 2 * col.scale


def fmt_pm(col: Column, mean, lo, hi, missing: str = "–") -> str:
    """'91.2 ±0.8': the mean with half the interval's width, in the column's units."""
    if mean is None or mean != mean:
        return missing
    hw = half_width(col, lo, hi)
    # a real interval that would round to "±0.0" gets the decimals that show it (``interval_digits``)
    f = f"{{:.{interval_digits(col, *((float(lo), float(hi)) if hw is not None else (None, None)))}f}}"
    text = f.format(float(mean) * col.scale)
    return text if hw is None else f"{text} ±{f.format(hw)}"
