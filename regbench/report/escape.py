"""Escaping what the Markdown reports quote (docs/architecture.md, Conventions: Reports).

Names, labels, descriptions and error texts come from suites and plugins, which anyone can
write. In README.md, diagnostics.md, compare-*.md and selection.md they are quoted through
:func:`md`, as index.html quotes them through ``html.escape``: raw HTML never reaches a
Markdown renderer, and a ``|`` never splits a table cell.
"""

from __future__ import annotations

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
