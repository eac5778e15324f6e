"""Escaping for every output: one function per format, used by every writer.

Names, labels, kinds, descriptions, caveats and error texts come from suites and plugins, which
anyone can write. Whatever quotes them goes through the function of its output, so a label is
always shown as the text it is and never acts as markup, a formula or a terminal command:

- :func:`terminal` for anything printed through rich (tables, captions, caveats, error lines);
- :func:`md` for Markdown (README.md, diagnostics.md, compare-*.md, selection.md);
- :func:`csv_cell` for the text cells of CSV files;
- :func:`tex` for leaderboard.tex;
- :func:`html` for index.html.

All of them first apply :func:`plain`: control characters (C0 but tab and newline, DEL, C1),
which could retitle or clear a terminal (``ESC ]0;…``, ``ESC [2J``) and which no file format
wants raw, become visible ``\\xNN`` text.
"""

from __future__ import annotations

import html as _html
import re
from typing import Any


# C0 controls except tab and newline, DEL and the C1 block (U+0080–U+009F, CSI among them)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(value: Any, one_line: bool = False) -> str:
    """``str(value)`` with every control character shown as ``\\xNN`` (never sent raw); with
    ``one_line``, runs of whitespace (tabs, newlines) become one space."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    return " ".join(text.split()) if one_line else text


def terminal(value: Any, one_line: bool = False) -> str:
    """``value`` as text for ``rich``: control characters made visible (:func:`plain`) and
    every ``[`` that could open a markup tag escaped, so ``l2 [lam=0.01]`` shows as written and
    ``[/x]`` cannot raise a ``MarkupError``."""
    from rich.markup import escape as rich_escape

    return rich_escape(plain(value, one_line))


# Markdown: `](`, `][` and `]:` are what make a link, an image or a reference definition out of
# brackets; escaping the `]` there breaks them while "mean [lo, hi]" cells stay readable.
_MD_LINK = re.compile(r"\](?=[(\[:])")
# at the start of a line these open a heading, a quote, a list or a setext underline ("-0.5" and
# "=1" are left alone: a list marker or underline is followed by a space or the line's end)
_MD_LINE_START = re.compile(r"^([ \t]*)(#|>|[-+*=](?=\s|$))", re.MULTILINE)


def md(value: Any, one_line: bool = True) -> str:
    """``value`` as text safe inside Markdown prose or a table cell.

    ``&`` and ``<`` become HTML entities (rendered as the characters: without a literal ``<`` no
    tag can open, so ``>`` stays readable, as in ``P(>erm)``); ``|`` becomes ``\\|``; the ``]``
    of a link or image (``[t](url)``, ``![i](url)``, ``[t][r]``, ``[r]: url``) becomes ``\\]``;
    a line starting with ``#``, ``>`` or a list marker or underline (``- + * =`` then a space) gets that character escaped, so no heading, quote or
    list can be injected; control characters are made visible (:func:`plain`). With
    ``one_line`` (the default: table cells, headings) newlines become spaces, since a newline
    ends a table row.
    """
    text = plain(value, one_line).replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")
    text = _MD_LINK.sub(r"\\]", text)
    return _MD_LINE_START.sub(r"\1\\\2", text)


_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates: text starting with ``= + - @``, tab or carriage
    return (a formula, in Excel and LibreOffice) gets a leading ``'``; control characters are
    made visible. Numbers, booleans and None pass unchanged."""
    if not isinstance(value, str):
        return value
    return ("'" if value.startswith(_CSV_FORMULA_START) else "") + plain(value)


TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
    # the default OT1 font encoding sets these as ¡ ¿ and a dash
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


def tex(value: Any) -> str:
    """``value`` as LaTeX text: the special characters spelled out, control characters made
    visible (and their backslash escaped). (render/tex.py adds the report's own marks.)"""
    return "".join(TEX_ESCAPES.get(ch, ch) for ch in plain(value))


def html(value: Any) -> str:
    """``value`` as HTML text or attribute value (``& < > " '`` as entities), control characters
    made visible."""
    return _html.escape(plain(value))


def csv_frame(frame):
    """A copy of the pandas DataFrame ``frame`` with every text cell through :func:`csv_cell`
    (the columns holding strings; numeric columns are left as they are)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = out[column].map(csv_cell)
    return out
