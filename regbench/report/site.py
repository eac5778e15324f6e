"""index.html: one self-contained page (inline CSS/JS, plots as base64 data URIs).

Works opened from disk or any web server with no network access: nothing is fetched.
All text from records (names, descriptions, errors) is HTML-escaped.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

import numpy as np

from regbench.report import tables
from regbench.report.aggregate import Leaderboard
from regbench.report.template import CSS, PAGE, SORT_JS


def _sort_keys(lb: Leaderboard, frame, scope: str) -> list[list[str | None]]:
    """data-v per cell: the number a column sorts by (None = sort by text)."""
    cols = tables.table_columns(lb, scope)
    out = []
    for rec in frame.to_dict("records"):
        nums = (
            [rec["rank"]]
            + [None, None]
            + [rec[c.key] * c.scale for c in cols]
            + [rec["seeds"], rec["failed"], rec["diverged"]]
        )
        out.append(
            [
                None if i in (1, 2) else ("" if v is None or not np.isfinite(v) else repr(float(v)))
                for i, v in enumerate(nums)
            ]
        )
    return out


def _table(lb: Leaderboard, frame, scope: str, table_id: str) -> str:
    header, rows = tables.display_rows(lb, frame, scope)
    keys = _sort_keys(lb, frame, scope)
    cls = lambda i: ' class="t"' if i in (1, 2) else ""  # noqa: E731  text columns left-aligned
    th = "".join(f"<th{cls(i)}>{escape(h)}</th>" for i, h in enumerate(header))
    body = []
    for row, ks in zip(rows, keys):
        tds = "".join(
            f"<td{cls(i)}" + ("" if k is None else f' data-v="{escape(k)}"') + f">{escape(c)}</td>"
            for i, (c, k) in enumerate(zip(row, ks))
        )
        body.append(f"<tr>{tds}</tr>")
    return (
        f'<div class="wrap"><table class="sortable" id="{escape(table_id)}"><thead><tr>{th}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _image(title: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><figcaption>{escape(title)}</figcaption><img alt="{escape(title)}" src="data:image/png;base64,{data}"></figure>'


def write_site(lb: Leaderboard, path: Path, plots: dict[str, Path]) -> None:
    s = lb.suite
    name = str(s.get("name", ""))
    settings = {k: v for k, v in s.items() if k not in ("name", "description")}
    parts = [
        f"<h1>Leaderboard: {escape(name)}</h1>",
        f"<p>{escape(str(s.get('description', '')))}</p>",
        "<h2>Main table</h2>",
        '<p class="note">Click a column header to sort.</p>',
        _table(lb, lb.main, "suite", "main"),
        '<ol class="note">',
    ]
    parts += [f"<li>{escape(n)}</li>" for n in tables.footnotes(lb)] + ["</ol>", "<h2>Per benchmark</h2>"]
    for i, (bench, grp) in enumerate(tables.benchmark_frames(lb)):
        parts += [f"<h3>{escape(bench)}</h3>", _table(lb, grp, "benchmark", f"bench-{i}")]
    parts.append("<h2>Plots</h2>")
    parts += [_image(title, p) for title, p in plots.items()]
    parts += ["<h2>Suite settings</h2>", f"<pre>{escape(json.dumps(settings, indent=2, default=str))}</pre>"]
    page = PAGE.substitute(title=escape(f"regbench leaderboard: {name}"), css=CSS, js=SORT_JS, body="\n".join(parts))
    path.write_text(page, encoding="utf-8")
