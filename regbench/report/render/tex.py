"""leaderboard.tex: the compact columns as booktabs tables a paper can include as they are.

One table for the suite and one per benchmark, each ``mean ± h`` (h = half the width of
the interval, set smaller), the best mean of each column in bold and every value whose
interval overlaps the best one's underlined (a visual cue, not a test: the rank range and tier
letters come from the paired tests, ``table.paired_cells``). No ``\\resizebox``: each is a
``table*`` (both columns of a two-column paper, the text width of a one-column one) at
``\\small`` with short headers (``TEX_HEADERS``, spelled out in the caption), so the compact
columns fit a default ``article`` in either layout without an overfull box
(tests/test_paper_table.py compiles it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from regbench.report.render import display, escape
from regbench.report.render.display import half_width
from regbench.report.table.aggregate import Column, Leaderboard
from regbench.report.table.column_choice import choose_columns

# short headers where the full label would set the column's width; the caption spells them out
TEX_HEADERS = {"cost_vs_erm": "Cost", "worst_group_accuracy": "Worst gr.", "effective_robustness": "Eff. rob."}
TEX_MARKS = {display.SHORT_MARK: r"$^\dagger$", display.MISSING: "--", display.ZERO_MARK: r"$^\ddagger$"}


def tex_escape(text: str) -> str:
    """``text`` through the one LaTeX escaping function (``escape.tex``), the report's marks as symbols."""
    return "".join(TEX_MARKS.get(ch, ch) for ch in escape.tex(text))


def marks(frame: pd.DataFrame, col: Column) -> tuple[np.ndarray, np.ndarray]:
    """(best, tied) boolean masks over the rows of ``frame`` for one column.

    best: the best mean (every row sharing it); tied: not best, but its interval overlaps
    the best row's interval, so the data cannot tell the two apart.
    """
    mean = frame[col.key].to_numpy(np.float64)
    lo, hi = frame[col.key + "_lo"].to_numpy(np.float64), frame[col.key + "_hi"].to_numpy(np.float64)
    finite = np.isfinite(mean)
    if not finite.any():
        return np.zeros(len(frame), bool), np.zeros(len(frame), bool)
    signed = np.where(finite, mean if col.higher_is_better else -mean, -np.inf)
    best = signed == signed.max()
    b = int(np.argmax(signed))
    with np.errstate(invalid="ignore"):
        overlap = (lo <= hi[b]) & (hi >= lo[b])
    return best, overlap & ~best & finite


def cell(col: Column, rec: dict, bold: bool, tied: bool) -> str:
    """'\\textbf{93.7}\\,{\\scriptsize$\\pm$0.2}' in the column's display units."""
    special = display.special(col, rec)
    if special is not None:
        return tex_escape(special)
    mean = display.stable_number(rec[col.key])
    if mean is None:
        return "--"
    lo, hi, mark = display.shown_interval(col, rec)
    f = f"{{:.{display.interval_digits(col, lo, hi)}f}}"
    text = f.format(mean * col.scale)
    text = rf"\textbf{{{text}}}" if bold else (rf"\underline{{{text}}}" if tied else text)
    text += tex_escape(mark)
    hw = half_width(col, lo, hi)
    return text if hw is None else text + rf"\,{{\scriptsize$\pm${f.format(hw)}}}"


def _header(col: Column) -> str:
    arrow = r"$\uparrow$" if col.higher_is_better else r"$\downarrow$"
    return f"{tex_escape(TEX_HEADERS.get(col.key, col.label))} {arrow}"


def header_legend(columns: list[Column]) -> str:
    """'Cost: cost vs erm.' for each shortened header among ``columns`` (LaTeX-escaped)."""
    short = [c for c in columns if c.key in TEX_HEADERS]
    return "".join(f" {tex_escape(TEX_HEADERS[c.key])}: {tex_escape(c.label)}." for c in short)


def tex_table(frame: pd.DataFrame, columns: list[Column], caption: str, label: str) -> list[str]:
    """One booktabs table: rank range, tier, regularizer and ``columns`` of ``frame``'s rows."""
    flags = {c.key: marks(frame, c) for c in columns}
    lines = [
        r"\begin{table*}[t]",
        r"\centering",
        r"\small",
        r"\setlength{\tabcolsep}{4pt}",
        rf"\begin{{tabular}}{{@{{}}rll{'r' * len(columns)}@{{}}}}",
        r"\toprule",
        " & ".join(["\\#", "Tier", "Regularizer"] + [_header(c) for c in columns]) + r" \\",
        r"\midrule",
    ]
    for i, rec in enumerate(frame.to_dict("records")):
        rank = display.rank_text(rec).replace(display.RANGE_DASH, "--")
        tier = display.tier_text(rec)
        name = str(rec["regularizer"]) + (display.SUBMISSION_MARK if rec.get("submission") else "")
        name += display.SHORT_MARK if rec["short_seeds"] else ""
        cells = [cell(c, rec, bool(flags[c.key][0][i]), bool(flags[c.key][1][i])) for c in columns]
        row = ["--" if rank == display.MISSING else rank, "--" if tier == display.MISSING else tier]
        lines.append(" & ".join([*row, tex_escape(name), *cells]) + r" \\")
    return lines + [
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{caption}}}",
        rf"\label{{{label}}}",
        r"\end{table*}",
        "",
    ]


def write_tex(lb: Leaderboard, path: Path, columns: list[str] | None = None) -> None:
    """leaderboard.tex (needs ``\\usepackage{booktabs}``): ``columns`` (keys) or the compact set."""
    name = str(lb.suite.get("name", ""))
    pct = int(round(lb.level * 100))
    cols = choose_columns(lb, columns)
    key = "".join(ch for ch in name if ch.isalnum()) or "suite"
    legend = (
        rf"Mean over seeds $\pm$ half the width of its {pct}\% interval (accuracies: two-level over seeds and "
        r"test images; IQM and P($>$erm): stratified bootstrap); bold: best mean; underlined: interval "
        r"overlaps the best one's. \#: rank range and tier letters from Holm-corrected paired tests (rows "
        r"sharing a letter are not separated). $^\dagger$: fewer ok seeds. Selection on validation data only."
    )
    if any(c.key == "cost_vs_erm" for c in cols):
        legend += " Cost: train CPU time (process time) relative to erm on the same benchmark."
    legend += header_legend([c for c in cols if c.key != "cost_vs_erm"])
    legend += " " + tex_escape(" ".join(display.mark_footnotes(lb)[:1]))
    notes = [n for n in lb.notes if n.startswith(display.NA)]  # which pairs are n/a, and why
    main_legend = legend + "".join(" " + tex_escape(c) for c in lb.caveats)  # e.g. benchmarks left out
    lines = [f"% regbench leaderboard for suite {tex_escape(name)}; needs \\usepackage{{booktabs}}", ""]
    lines += tex_table(lb.main, cols, f"{tex_escape(name)}: mean over benchmarks. {main_legend}", f"tab:regbench-{key}")
    legend += "".join(" " + tex_escape(n) for n in notes)
    bench_cols = [c for c in cols if not c.suite_only]
    for i, (bench, grp) in enumerate(display.benchmark_frames(lb)):
        caption = f"{tex_escape(name)} / {tex_escape(bench)}. {legend}"
        lines += tex_table(grp, bench_cols, caption, f"tab:regbench-{key}-{i}")
    path.write_text("\n".join(lines), encoding="utf-8")
