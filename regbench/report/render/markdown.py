"""Markdown for every report (leaderboard README, diagnostics.md, compare-*.md, selection.md):
escaping what they quote (``md``) and the one table writer (``table``).

Names, labels, descriptions and error texts come from suites and plugins, which anyone can
write. They are quoted through :func:`md` (from ``escape``, where every output format has its
one escaping function): raw HTML, links, images and headings never reach a Markdown renderer,
and a ``|`` never splits a table cell (docs/architecture.md, Conventions: Reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from regbench.report.render.escape import md  # the one escaping module; re-exported for the writers

__all__ = ["md", "table"]


def table(header: Sequence[object], rows: Sequence[Sequence[object]], align: str = "") -> list[str]:
    """Lines of a Markdown table, every cell escaped with :func:`md`, so a name holding HTML or
    ``|`` stays text in its cell. ``align``: one letter per column, ``l`` or ``r`` (default left)."""
    rule = "|" + "".join("---:|" if a == "r" else "---|" for a in align.ljust(len(header), "l")) + ""
    cells = lambda r: "| " + " | ".join(md(c) for c in r) + " |"  # noqa: E731
    return [cells(header), rule, *(cells(r) for r in rows)]
