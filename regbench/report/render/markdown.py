"""The one Markdown table writer of every report (leaderboard README, diagnostics.md,
compare-*.md, selection.md): cells escaped with :func:`regbench.report.escape.md`, so a
name holding HTML or ``|`` stays text in its cell."""

from __future__ import annotations

from collections.abc import Sequence

from regbench.report.escape import md


def table(header: Sequence[object], rows: Sequence[Sequence[object]], align: str = "") -> list[str]:
    """Lines of a Markdown table. ``align``: one letter per column, ``l`` or ``r`` (default left)."""
    rule = "|" + "".join("---:|" if a == "r" else "---|" for a in align.ljust(len(header), "l")) + ""
    cells = lambda r: "| " + " | ".join(md(c) for c in r) + " |"  # noqa: E731
    return [cells(header), rule, *(cells(r) for r in rows)]
