"""Markdown for every report (leaderboard README, diagnostics.md, compare-*.md, selection.md):
escaping what they quote (``md``) and the one table writer (``table``).

Names, labels, descriptions and error texts come from suites and plugins, which anyone can
write. They are quoted through :func:`md`, as index.html quotes them through
``html.escape``: raw HTML never reaches a Markdown renderer, and a ``|`` never splits a
table cell (docs/architecture.md, Conventions: Reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def md(value: Any, one_line: bool = True) -> str:
    """``value`` as text safe inside Markdown prose or a table cell.

    ``&`` and ``<`` become HTML entities (rendered as the characters: without a literal ``<`` no
    tag can open, so ``>`` stays readable, as in ``P(>erm)``); ``|`` becomes ``\\|``; with
    ``one_line`` (the default: table cells, headings) newlines become spaces, since a newline
    ends a table row.
    """
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")
    return " ".join(text.split()) if one_line else text


def table(header: Sequence[object], rows: Sequence[Sequence[object]], align: str = "") -> list[str]:
    """Lines of a Markdown table, every cell escaped with :func:`md`, so a name holding HTML or
    ``|`` stays text in its cell. ``align``: one letter per column, ``l`` or ``r`` (default left)."""
    rule = "|" + "".join("---:|" if a == "r" else "---|" for a in align.ljust(len(header), "l")) + ""
    cells = lambda r: "| " + " | ".join(md(c) for c in r) + " |"  # noqa: E731
    return [cells(header), rule, *(cells(r) for r in rows)]
