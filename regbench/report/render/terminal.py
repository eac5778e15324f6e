"""The leaderboard in a terminal (rich) or as text for a pipe (markdown, csv).

The terminal table never wraps a cell: it tries "mean [lo, hi]" first, then "mean ±h"
(half the interval's width), then truncates regularizer names with "…", and only when
even that is too wide (``--full`` at 80 columns) splits the columns over several tables
that each repeat the rank and the name.
"""

from __future__ import annotations

import io

import pandas as pd

from regbench.report.render import display, markdown
from regbench.report.render.escape import csv_frame, plain
from regbench.report.render.escape import terminal as term
from regbench.report.render.display import ZERO_MARK, fmt_pm, shown_interval
from regbench.report.render.display import special as special_text
from regbench.report.table.aggregate import Column, Leaderboard

MIN_NAME = 8  # a name is never cut below this many characters
ELLIPSIS = "…"


def _name(rec: dict) -> str:
    mark = (display.SUBMISSION_MARK if rec.get("submission") else "") + (
        display.SHORT_MARK if rec["short_seeds"] else ""
    )
    return plain(rec["regularizer"], one_line=True) + mark  # cut to width as the reader sees it


def cut_name(name: str, width: int) -> str:
    """``name`` cut to ``width`` with "…", its trailing marks (submission ``*``, short seeds)
    kept: the mark says what the row is, so it outlives the name's tail."""
    marks = ""
    while name and name[-1] in (display.SUBMISSION_MARK + display.SHORT_MARK) and len(name) > 1:
        name, marks = name[:-1], name[-1] + marks
    return truncate(name, max(width - len(marks), 1)) + marks if len(name) + len(marks) > width else name + marks


def _rank(rec: dict) -> str:
    return display.rank_text(rec)


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one "…" when anything was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def cell_texts(lb: Leaderboard, columns: list[Column], style: str) -> list[list[str]]:
    """Per row of ``lb.main``: rank range, tier, name and one text per column ('bracket' or 'pm' style)."""
    rows = []
    for rec in lb.main.to_dict("records"):
        cells = []
        for c in columns:
            special = special_text(c, rec)
            if style == "bracket" or special is not None:
                cells.append(display.cell_text(c, rec))
                continue
            lo, hi, mark = shown_interval(c, rec)
            cells.append(
                fmt_pm(c, rec[c.key], lo, hi) + (mark if display.stable_number(rec[c.key]) is not None else "")
            )
        rows.append([_rank(rec), display.tier_text(rec), _name(rec), *cells])
    return rows


def _table(lb: Leaderboard, columns: list[Column], rows: list[list[str]], caption: str | None, part: str = ""):
    from rich import box
    from rich.table import Table

    table = Table(
        title=term(f"regbench leaderboard: {lb.suite.get('name', '')}{part}", one_line=True),
        caption=None if caption is None else term(caption),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1),
        caption_justify="left",
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Tier", justify="left", no_wrap=True)
    table.add_column("Regularizer", justify="left", no_wrap=True, overflow="ellipsis")
    for c in columns:
        table.add_column(term(c.label, one_line=True), justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*(term(cell, one_line=True) for cell in row))  # a label is text, never markup
    return table


def _width(console, table) -> int:
    from rich.measure import Measurement

    wide = console.options.update(width=10_000, max_width=10_000)  # the natural width, not the clamped one
    return Measurement.get(console, wide, table).maximum


def _caption(lb: Leaderboard, style: str, full_hint: bool) -> str:
    pct = int(round(lb.level * 100))
    interval = f"mean [{pct}% CI]" if style == "bracket" else f"mean ± half-width of the {pct}% CI"
    parts = [
        f"ranked by {lb.primary.label}; {interval} over seeds; selection on validation only",
        "# rank range, tier letters: rows sharing a letter are not separated by the paired tests",
        f"{display.SHORT_MARK} fewer ok seeds (failed/diverged/collapsed runs)",
        f"{ZERO_MARK} no interval: every bootstrap resample gave the same value",
    ]
    if any(c.key == "cost_vs_erm" for c in lb.columns):
        parts.append("cost = train CPU time / erm's")
    if full_hint:
        parts.append("--full for every column")
    return "; ".join(parts)


def terminal_tables(lb: Leaderboard, columns: list[Column], console, full_hint: bool = True) -> list:
    """rich Tables showing ``columns`` of the main table within ``console.width``."""
    width = console.width
    for style in ("bracket", "pm"):
        rows = cell_texts(lb, columns, style)
        table = _table(lb, columns, rows, _caption(lb, style, full_hint))
        if _width(console, table) <= width:
            return [table]
    # names give way first, down to MIN_NAME characters
    longest = max((len(r[2]) for r in rows), default=MIN_NAME)
    for name_width in range(longest - 1, MIN_NAME - 1, -1):
        cut = [[r[0], r[1], cut_name(r[2], name_width), *r[3:]] for r in rows]
        table = _table(lb, columns, cut, _caption(lb, "pm", full_hint))
        if _width(console, table) <= width:
            return [table]
    # still too wide: split the columns, each part repeating rank, tier and name;
    # names as long as the widest single column leaves room for (full when they fit)
    rows = cell_texts(lb, columns, "pm")
    for name_width in range(longest, MIN_NAME - 1, -1):
        cut = [[r[0], r[1], cut_name(r[2], name_width), *r[3:]] for r in rows]
        if all(
            _width(console, _table(lb, [columns[j]], [[r[0], r[1], r[2], r[3 + j]] for r in cut], None)) <= width
            for j in range(len(columns))
        ):
            break
    rows = cut
    parts, current = [], []
    for j in range(len(columns)):
        trial = current + [j]
        sub = [[r[0], r[1], r[2], *(r[3 + i] for i in trial)] for r in rows]
        if current and _width(console, _table(lb, [columns[i] for i in trial], sub, None)) > width:
            parts.append(current)
            trial = [j]
        current = trial
    parts.append(current)
    out = []
    for k, part in enumerate(parts):
        sub = [[r[0], r[1], r[2], *(r[3 + i] for i in part)] for r in rows]
        caption = _caption(lb, "pm", False) if k == len(parts) - 1 else None
        label = f" (columns, part {k + 1} of {len(parts)})"
        out.append(_table(lb, [columns[i] for i in part], sub, caption, label))
    return out


def render_terminal(lb: Leaderboard, console=None, columns: list[Column] | None = None) -> None:
    """Print the main table with rich (to ``console``, default a new rich Console).

    columns: what to show (default the compact set of ``regbench.report.table.column_choice``).
    """
    from rich.console import Console

    from regbench.report.table.column_choice import compact_columns

    cols = columns if columns is not None else compact_columns(lb)
    if console is None:
        console = Console()
    compact = [c.key for c in cols] == [c.key for c in compact_columns(lb)]
    for caveat in lb.caveats:  # e.g. fewer than 5 seeds: said above the table, not in a footnote
        console.print(f"Caveat: {term(caveat)}")
    for table in terminal_tables(lb, cols, console, full_hint=compact):
        console.print(table)


def format_text(lb: Leaderboard, columns: list[Column], fmt: str) -> str:
    """The main table as 'markdown' (rounded "mean [lo, hi]" cells) or 'csv' (raw numbers
    with their interval, the units of leaderboard.csv), for ``--format`` and pipes."""
    if fmt == "markdown":
        header = ["Rank", "Tier", "Regularizer"] + [c.label for c in columns]
        return "\n".join(markdown.table(header, cell_texts(lb, columns, "bracket"))) + "\n"
    if fmt == "csv":
        keep = ["rank", "rank_hi", "tier", "regularizer"]
        keep += [k for c in columns for k in (c.key, c.key + "_lo", c.key + "_hi")]
        frame = lb.main[keep].copy()
        frame[keep[4:]] = frame[keep[4:]].astype(float).round(6)
        frame[["rank", "rank_hi"]] = frame[["rank", "rank_hi"]].astype("Int64")
        buf = io.StringIO()
        csv_frame(pd.DataFrame(frame)).to_csv(buf, index=False, lineterminator="\n")
        return buf.getvalue()
    raise ValueError(f"unknown format '{fmt}'; expected terminal, markdown or csv")
