"""README.md of a leaderboard: the suite's table, its numbered notes, one table per benchmark, the plots.

Cells come from ``display.display_rows`` (the text every writer shows) and are escaped for
Markdown (``markdown.md``).
"""

from __future__ import annotations

from pathlib import Path

from regbench.report.render import markdown, versus_baseline
from regbench.report.render.bundle import benchmark_rows, provenance_line, regularizer_rows
from regbench.report.render.display import benchmark_frames, display_rows, footnotes, resolution_text
from regbench.report.render.markdown import md
from regbench.report.table.aggregate import Leaderboard


def write_markdown(lb: Leaderboard, path: Path, plots: dict[str, Path], settings: dict | None = None) -> None:
    """Write README.md to ``path``; ``plots`` (title → PNG written beside it) join at the end,
    then ``settings`` (the publication bundle's manifest and config: ``render.bundle``)."""
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
        resolution = resolution_text(lb, bench)
        if resolution:
            lines += [md(resolution), ""]
        lines += markdown.table(*display_rows(lb, grp, "benchmark")) + [""]
    benches = [b for b, _ in benchmark_frames(lb)]
    lines += versus_baseline.section(lb.versus_erm, benches, list(lb.main["regularizer"]), lb.level)
    if plots:
        lines += ["## Plots", ""] + [f"![{name}]({p.name})" for name, p in plots.items()] + [""]
    if settings:
        lines += settings_markdown(settings, str(s.get("name", "")))
    path.write_text("\n".join(lines), encoding="utf-8")


def settings_markdown(settings: dict, suite: str) -> list[str]:
    """The "Settings" section: provenance, then every benchmark's and regularizer's resolved settings."""
    lines = ["## Settings", "", md(provenance_line(settings["manifest"])), ""]
    lines += [
        f"Files: `runs.jsonl.gz` (every run's metrics), `manifest.json`, `config.json`, `suite.yaml`. "
        f"Retrain a sample and compare: `regbench verify leaderboard/{md(suite)}` (`--all` for every run).",
        "",
    ]
    lines += markdown.table(*benchmark_rows(settings["config"])) + [""]
    lines += markdown.table(*regularizer_rows(settings["config"])) + [""]
    return lines
