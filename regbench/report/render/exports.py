"""Leaderboard tables: README.md, leaderboard.csv, leaderboard.json (leaderboard.tex: ``tex``).

Every writer renders the same display cells (``display_rows``) from the same frames, so the
files cannot disagree; CSV and JSON carry the unrounded numbers (to 6 decimals) with
their interval and n, markdown the rounded "mean [lo, hi]" text.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from regbench.report import cells as special_cells
from regbench.report import markdown
from regbench.report.aggregate import Column, Leaderboard
from regbench.report.escape import md

FORMAT_VERSION = 1
MISSING = "–"  # shown where a number does not exist (no ok run, no erm, metric not recorded)
SHORT_MARK = "†"  # fewer ok seeds than the most any cell has
SUBMISSION_MARK = "*"  # a `regbench compare` submission, not a standard config
TIED_MARK = "="  # the row's interval overlaps its tier leader's: a tie, not a win
COUNT_HEADERS = ["Seeds", "Failed", "Diverged"]


def _num(x) -> float | None:
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
    m = _num(mean)
    if m is None:
        return MISSING
    lo, hi = _num(lo), _num(hi)
    f = f"{{:.{special_cells.interval_digits(col, lo, hi)}f}}"
    text = f.format(m * col.scale)
    if lo is not None and hi is not None:
        text += f" [{f.format(lo * col.scale)}, {f.format(hi * col.scale)}]"
    return text


def cell_text(col: Column, rec: dict) -> str:
    """One cell as every text writer shows it: n/a cases (report/cells.py), else 'mean [lo, hi]'."""
    text = special_cells.special(col, rec)
    if text is not None:
        return text
    lo, hi, mark = special_cells.shown_interval(col, rec)
    return fmt_estimate(col, rec[col.key], lo, hi) + (mark if _num(rec[col.key]) is not None else "")


def table_columns(lb: Leaderboard, scope: str) -> list[Column]:
    return [c for c in lb.columns if scope == "suite" or not c.suite_only]


def display_rows(lb: Leaderboard, frame: pd.DataFrame, scope: str) -> tuple[list[str], list[list[str]]]:
    """Header and text cells shared by every human-readable writer."""
    cols = table_columns(lb, scope)
    header = ["Rank", "Regularizer", "Kind"] + [c.label for c in cols] + COUNT_HEADERS
    rows = []
    for rec in frame.to_dict("records"):
        rank = MISSING if _num(rec["rank"]) is None else (TIED_MARK if rec.get("tied") else "") + str(int(rec["rank"]))
        name = str(rec["regularizer"]) + (SUBMISSION_MARK if rec.get("submission") else "") + _inactive(rec)
        seeds = str(int(rec["seeds"])) + (SHORT_MARK if rec["short_seeds"] else "")
        cells = [cell_text(c, rec) for c in cols]
        rows.append(
            [rank, name, str(rec.get("kind") or "")]
            + cells
            + [seeds, str(int(rec["failed"])), str(int(rec["diverged"]))]
        )
    return header, rows


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
    pct = int(round(lb.level * 100))
    suite = lb.suite
    notes = [
        f"Ranked by {lb.primary.label} ({'higher' if lb.primary.higher_is_better else 'lower'} is better), "
        "the suite's primary metric; suite-level numbers are means over benchmarks.",
        f"Checkpoints and hyper-parameters were selected on the validation split only "
        f"({suite.get('selection', 'val_accuracy')}); test_id and OOD splits were evaluated once, after training.",
        f"Every per-benchmark number is a mean over ok seeds with its {pct}% Student-t interval [lo, hi] over "
        "the seeds. The splits are the same for every seed, so for accuracies (and the OOD drop, gap and "
        "effective robustness) the binomial error p(1-p)/N of the test split is added to the variance of the "
        "mean; OOD splits that reuse images count as perfectly correlated (conservative). Suite-level means "
        "combine the benchmarks' variances (Welch-Satterthwaite df). ECE and MIA AUC carry the seed spread only.",
        f"IQM, mean rank and cost vs erm are not means over seeds: their {pct}% intervals are percentile "
        f"intervals of rliable's stratified bootstrap ({lb.reps} resamples of seeds within each benchmark, "
        f"seeded); they carry the seed spread only. P(>erm) has a {pct}% score interval for the Mann-Whitney "
        "probability (Newcombe 2006, continuity-corrected), which keeps a width when one side wins every "
        "pair; erm's own P(>erm) is shown as –. The t quantile of a mean with a binomial part takes "
        "Welch-Satterthwaite degrees of freedom, and every interval is clipped to its column's range "
        "(0-100 for accuracies, worst-group and ECE, 0-1 for MIA AUC and P(>erm)), which cannot lower coverage.",
        f"Rank: rows are sorted by {lb.primary.label}, then grouped into tiers; a row whose interval overlaps "
        f"its tier leader's shares the leader's rank and is marked {TIED_MARK} (tied, not a win).",
        f"{SHORT_MARK}: fewer ok seeds than the other regularizers (Seeds = fewest ok seeds on any benchmark). "
        "Failed and diverged runs are counted in their columns and excluded from the means.",
        f"{SUBMISSION_MARK}: a submitted regularizer (`regbench compare`), not one of the standard configs.",
    ]
    notes += special_cells.footnotes(lb)
    notes += [f"{c.label}: {c.help}." for c in lb.columns]
    return notes + list(lb.notes)


def write_markdown(lb: Leaderboard, path: Path, plots: dict[str, Path]) -> None:
    s = lb.suite
    lines = [f"# Leaderboard: {md(s.get('name', ''))}", "", md(s.get("description", ""), one_line=False), ""]
    lines += [
        f"Seeds: {s.get('seeds', '')} · primary metric: `{lb.primary.key}` · selection: "
        f"`{s.get('selection', 'val_accuracy')}` · benchmarks: {len(s.get('benchmarks', []))}",
        "",
    ]
    for c in lb.caveats:  # a paragraph each: consecutive lines would run together in Markdown
        lines += [f"**Caveat:** {md(c)}", ""]
    lines += markdown.table(*display_rows(lb, lb.main, "suite")) + [""]
    lines += [f"{i}. {n}" for i, n in enumerate(footnotes(lb), 1)] + ["", "## Per benchmark", ""]
    meta = {b.get("name"): b for b in s.get("benchmarks", [])}
    for bench, grp in benchmark_frames(lb):
        b = meta.get(bench, {})
        extra = ", ".join(f"{k}: {md(b[k])}" for k in ("shift_kind", "dataset", "model") if b.get(k))
        lines += [f"### {md(bench)}" + (f" ({extra})" if extra else ""), ""]
        lines += markdown.table(*display_rows(lb, grp, "benchmark")) + [""]
    if plots:
        lines += ["## Plots", ""] + [f"![{name}]({p.name})" for name, p in plots.items()] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _flat_row(lb: Leaderboard, rec: dict, scope: str, bench: str) -> dict:
    out = {
        "scope": scope,
        "benchmark": bench,
        "rank": _num(rec["rank"]),
        "regularizer": rec["regularizer"],
        "kind": rec.get("kind"),
        "submission": bool(rec.get("submission")),
        "not_applicable": rec.get("not_applicable") or None,  # why the pair cannot run; its numbers are null
        "smallest_group": _num(rec.get("smallest_group")),  # over the OOD splits; worst-group needs >= 20
    }
    for c in table_columns(lb, scope):
        for suf in ("", "_lo", "_hi", "_n"):
            out[c.key + suf] = _num(rec[c.key + suf])
    for k in ("tied", "seeds", "seeds_max", "short_seeds", "failed", "diverged"):
        out[k] = _num(rec[k])
    return out


def write_csv(lb: Leaderboard, path: Path) -> None:
    rows = [_flat_row(lb, r, "suite", "") for r in lb.main.to_dict("records")]
    for bench, grp in benchmark_frames(lb):
        rows += [_flat_row(lb, r, "benchmark", bench) for r in grp.to_dict("records")]
    pd.DataFrame(rows).to_csv(path, index=False, lineterminator="\n")


def _json_row(lb: Leaderboard, rec: dict, scope: str) -> dict:
    flat = _flat_row(lb, rec, scope, "")
    out = {
        k: flat[k]
        for k in (
            "rank",
            "tied",
            "regularizer",
            "kind",
            "submission",
            "not_applicable",
            "smallest_group",
            "seeds",
            "seeds_max",
            "short_seeds",
            "failed",
            "diverged",
        )
    }
    if scope == "suite":
        out["params"] = json.loads(rec["params"]) if isinstance(rec.get("params"), str) and rec["params"] else None
    out["metrics"] = {
        c.key: {"mean": flat[c.key], "lo": flat[c.key + "_lo"], "hi": flat[c.key + "_hi"], "n": flat[c.key + "_n"]}
        for c in table_columns(lb, scope)
    }
    return out


def write_json(lb: Leaderboard, path: Path) -> None:
    doc = {
        "format_version": FORMAT_VERSION,
        "suite": lb.suite,
        "primary_metric": lb.primary.key,
        "caveats": list(lb.caveats),
        "confidence_level": lb.level,
        "bootstrap_reps": lb.reps,
        "columns": [
            {
                "key": c.key,
                "label": c.label,
                "higher_is_better": c.higher_is_better,
                "scale": c.scale,
                "digits": c.digits,
                "suite_only": c.suite_only,
                "help": c.help,
            }
            for c in lb.columns
        ],
        "main": [_json_row(lb, r, "suite") for r in lb.main.to_dict("records")],
        "benchmarks": [
            {"benchmark": b, "rows": [_json_row(lb, r, "benchmark") for r in g.to_dict("records")]}
            for b, g in benchmark_frames(lb)
        ],
        "fits": lb.fits,
        "notes": list(lb.notes),
    }
    path.write_text(
        json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
