"""index.html: one self-contained page (inline CSS/JS, plots as base64 data URIs).

Works opened from disk or any web server with no network access: nothing is fetched.
All text from records (names, descriptions, errors) is HTML-escaped. The compact columns
(``regbench.report.table.column_choice``) show by default; the others join by group (accuracy,
calibration, robustness, cost, statistics) with a checkbox. Each benchmark has its tab.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from regbench.report.render import display
from regbench.report.render.bundle import benchmark_rows, provenance_line, regularizer_rows
from regbench.report.render.display import half_width
from regbench.report.render.escape import html as escape
from regbench.report.render.html_template import CSS, PAGE, SCRIPT
from regbench.report.table.aggregate import Column, Leaderboard
from regbench.report.table.collapsed import COLLAPSED
from regbench.report.table.column_choice import COMPACT_KEYS, GROUPS, group_of

# the columns that are not metrics: (header, group, definition)
COUNTS = [
    ("Kind", "statistics", "what the row adds to the stack every row shares: baseline, loss, penalty, optimizer, …"),
    ("Seeds", "statistics", "ok seeds (fewest on any benchmark); † = fewer than the others"),
    ("Failed", "statistics", "runs that raised an error: counted, excluded from the means"),
    ("Diverged", "statistics", "runs whose loss became NaN/inf: counted, excluded from the means"),
    ("Collapsed", "statistics", "runs predicting one class, or at chance on train: counted, excluded from the means"),
]


def _metric_cell(col: Column, rec: dict, level: float) -> str:
    """'93.7<span class=ci> ±0.2</span>' with the interval in its tooltip and data-v to sort by."""
    mean = display.stable_number(rec[col.key])
    cls = _classes(col.key)
    special = display.special(col, rec)
    if special is not None:
        why = rec.get("not_applicable") or (
            "every seed collapsed (one predicted class, or chance train accuracy)"
            if special == COLLAPSED
            else "worst-group accuracy needs every group to have 20 examples"
        )
        return f'<td class="{cls}" data-v="" title="{escape(str(why))}">{escape(special)}</td>'
    if mean is None:
        return f'<td class="{cls}" data-v="">{display.MISSING}</td>'
    lo_v, hi_v, mark = display.shown_interval(col, rec)
    f = f"{{:.{display.interval_digits(col, lo_v, hi_v)}f}}"
    text = escape(f.format(mean * col.scale) + mark)
    hw = half_width(col, lo_v, hi_v)
    tip = ""
    if hw is not None:
        lo, hi = f.format(lo_v * col.scale), f.format(hi_v * col.scale)
        text += f'<span class="ci"> ±{escape(f.format(hw))}</span>'
        tip = f' title="{int(round(level * 100))}% interval [{lo}, {hi}], n = {int(rec.get(col.key + "_n") or 0)}"'
    return f'<td class="{cls}" data-v="{mean * col.scale!r}"{tip}>{text}</td>'


def _classes(key: str) -> str:
    """g-<group>, plus x (hidden until its group is shown) for a column outside the compact set."""
    return f"g-{group_of(key)}" + ("" if key in COMPACT_KEYS else " x")


def _table(lb: Leaderboard, frame, scope: str, table_id: str) -> str:
    cols = display.table_columns(lb, scope)
    th = [
        '<th class="rank" title="rank range by the primary metric, from the paired tests">#</th>',
        '<th class="name t" title="the regularizer config (* = a compare submission)">Regularizer</th>',
        '<th class="t" title="tier letters: rows sharing a letter are not separated by the paired tests">Tier</th>',
    ]
    th += [f'<th class="{_classes(c.key)}" title="{escape(c.help)}">{escape(c.label)}</th>' for c in columns_of(cols)]
    th += [f'<th class="g-{g} x" title="{escape(d)}">{h}</th>' for h, g, d in COUNTS]
    body = []
    for rec in frame.to_dict("records"):
        rank = display.stable_number(rec["rank"])
        name = str(rec["regularizer"]) + (display.SUBMISSION_MARK if rec.get("submission") else "")
        name += display.SHORT_MARK if rec["short_seeds"] else ""
        tds = [
            f'<td class="rank" data-v="{"" if rank is None else rank!r}">{display.rank_text(rec)}</td>',
            f'<td class="name t" title="{escape(name)}">{escape(name)}</td>',
            f'<td class="t">{escape(display.tier_text(rec))}</td>',
        ]
        tds += [_metric_cell(c, rec, lb.level) for c in columns_of(cols)]
        seeds = str(int(rec["seeds"])) + (display.SHORT_MARK if rec["short_seeds"] else "")
        tds += [
            f'<td class="g-statistics x t">{escape(str(rec.get("kind") or ""))}</td>',
            f'<td class="g-statistics x" data-v="{int(rec["seeds"])}">{seeds}</td>',
            f'<td class="g-statistics x" data-v="{int(rec["failed"])}">{int(rec["failed"])}</td>',
            f'<td class="g-statistics x" data-v="{int(rec["diverged"])}">{int(rec["diverged"])}</td>',
            f'<td class="g-statistics x" data-v="{int(rec["collapsed"])}">{int(rec["collapsed"])}</td>',
        ]
        body.append(f"<tr>{''.join(tds)}</tr>")
    return (
        f'<div class="wrap"><table class="sortable" id="{escape(table_id)}"><thead><tr>{"".join(th)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def columns_of(cols: list[Column]) -> list[Column]:
    """Metric columns with the compact ones first (in their compact order), then the rest."""
    compact = sorted((c for c in cols if c.key in COMPACT_KEYS), key=lambda c: COMPACT_KEYS.index(c.key))
    return compact + [c for c in cols if c.key not in COMPACT_KEYS]


def _image(title: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><figcaption>{escape(title)}</figcaption><img alt="{escape(title)}" src="data:image/png;base64,{data}"></figure>'


def _controls() -> str:
    boxes = "".join(f'<label><input type="checkbox" class="group" value="{g}"> {g}</label>' for g in GROUPS)
    return (
        '<div class="controls"><input type="search" id="search" placeholder="Filter regularizers…" '
        f'aria-label="filter regularizers"><span class="boxes">More columns: {boxes}</span></div>'
    )


def write_site(lb: Leaderboard, path: Path, plots: dict[str, Path], bundle: dict | None = None) -> None:
    """Write index.html; ``bundle`` (the publication bundle's manifest and config) replaces
    the suite's raw settings with the resolved ones and their provenance."""
    s = lb.suite
    name = str(s.get("name", ""))
    settings = {k: v for k, v in s.items() if k not in ("name", "description", "caveat")}
    benches = display.benchmark_frames(lb)
    tabs = ['<button class="tab active" data-tab="main">All benchmarks</button>']
    tabs += [f'<button class="tab" data-tab="bench-{i}">{escape(b)}</button>' for i, (b, _) in enumerate(benches)]
    parts = [
        f"<h1>Leaderboard: {escape(name)}</h1>",
        f"<p>{escape(str(s.get('description', '')))}</p>",
        *(f'<p class="note"><strong>Caveat:</strong> {escape(c)}</p>' for c in lb.caveats),
        _controls(),
        f'<nav class="tabs">{"".join(tabs)}</nav>',
        '<section class="panel" id="panel-main">',
        f'<p class="note">Mean over benchmarks and seeds ± half its {int(round(lb.level * 100))}% interval '
        "(hover a number for the interval). Click a header to sort; hover it for its definition.</p>",
        _table(lb, lb.main, "suite", "main"),
        '<ol class="note">',
    ]
    parts += [f"<li>{escape(n)}</li>" for n in display.footnotes(lb)] + ["</ol>", "</section>"]
    meta = {b.get("name"): b for b in s.get("benchmarks", [])}
    for i, (bench, grp) in enumerate(benches):
        b = meta.get(bench, {})
        extra = ", ".join(f"{k}: {b[k]}" for k in ("shift_kind", "dataset", "model") if b.get(k))
        parts += [
            f'<section class="panel" id="panel-bench-{i}" hidden>',
            f"<h2>{escape(bench)}</h2>",
            f'<p class="note">{escape(extra)}</p>' if extra else "",
            f'<p class="note">{escape(display.resolution_text(lb, bench) or "")}</p>',
            _table(lb, grp, "benchmark", f"bench-{i}"),
            "</section>",
        ]
    parts.append("<h2>Plots</h2>")
    parts += [_image(title, p) for title, p in plots.items()]
    if bundle:
        parts += settings_html(bundle, name)
    else:
        parts += ["<h2>Suite settings</h2>", f"<pre>{escape(json.dumps(settings, indent=2, default=str))}</pre>"]
    page = PAGE.substitute(title=escape(f"regbench leaderboard: {name}"), css=CSS, js=SCRIPT, body="\n".join(parts))
    path.write_text(page, encoding="utf-8")


def settings_html(bundle: dict, suite: str) -> list[str]:
    """The "Settings" section: the provenance line, then the resolved benchmark and regularizer tables."""
    parts = [
        "<h2>Settings</h2>",
        f'<p class="note">{escape(provenance_line(bundle["manifest"]))}</p>',
        f'<p class="note">Retrain a sample and compare: <code>regbench verify leaderboard/{escape(suite)}</code> '
        "(<code>--all</code> for every run); the runs are in runs.jsonl.gz beside this page.</p>",
    ]
    for header, rows in (benchmark_rows(bundle["config"]), regularizer_rows(bundle["config"])):
        head = "".join(f'<th class="t">{escape(h)}</th>' for h in header)
        body = "".join("<tr>" + "".join(f'<td class="t">{escape(c)}</td>' for c in r) + "</tr>" for r in rows)
        parts.append(f'<div class="wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')
    return parts
