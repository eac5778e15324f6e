"""Leaderboards as pure functions of run records (docs/architecture.md, Leaderboard, docs/architecture.md, Conventions: Reports).

``build_leaderboard`` takes the store's frames and writes README.md, leaderboard.csv/.json/
.tex, PNG plots and a self-contained index.html. Nothing here imports torch: the report
works from records alone, like RobustBench's leaderboard/template.py or DomainBed's
collect_results.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from regbench.report.stats import DEFAULT_LEVEL, DEFAULT_REPS, paired_difference
from regbench.report.table.aggregate import Leaderboard, aggregate, paired_comparison, run_table

__all__ = ["Leaderboard", "build_leaderboard", "render_terminal", "paired_comparison", "paired_difference", "run_table"]


def build_leaderboard(
    runs: pd.DataFrame,
    metrics: pd.DataFrame,
    reliability: pd.DataFrame,
    suite: dict,
    out_dir: str | Path,
    reps: int = DEFAULT_REPS,
    level: float = DEFAULT_LEVEL,
    plots: bool = True,
    extra_plots: dict[str, Path] | None = None,
    tex_columns: list[str] | None = None,
    publication: dict | None = None,
    outcomes: dict | None = None,
) -> Leaderboard:
    """Aggregate the records and write every leaderboard file into ``out_dir``.

    runs: one row per run; metrics: tidy rows (run_key, split, family, shift, severity,
    metric, value, n); reliability: 15-bin reliability rows. ``extra_plots`` (title → PNG
    already written, e.g. the diagnostics' bias/variance bars) join the page and README;
    ``tex_columns`` (column keys) choose leaderboard.tex's columns (default the compact set).
    ``publication`` (plain dicts: see ``render.bundle.write_bundle``) adds the publication
    bundle — runs.jsonl.gz, manifest.json, config.json, suite.yaml — whose resolved settings
    and provenance line README.md and the page show;
    ``outcomes`` (``Store.outcomes`` of the runs) give the accuracy cells and the tiers their
    per-image paired statistics.
    Identical inputs give byte-identical files. Returns the Leaderboard with ``files`` filled in.
    """
    from regbench.report.render import exports, html, readme, tex

    if runs.empty:
        raise ValueError(f"no runs recorded for suite '{suite.get('name', '')}': nothing to put on a leaderboard")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lb = aggregate(runs, metrics, suite, reps=reps, level=level, outcomes=outcomes)
    made: dict[str, Path] = {}
    if plots:
        from regbench.report.render.plots import plot_all

        made, notes = plot_all(lb, metrics, reliability, out)
        lb.notes.extend(notes)
        made = {**made, **(extra_plots or {})}
    files = {
        "README.md": out / "README.md",
        "leaderboard.csv": out / "leaderboard.csv",
        "leaderboard.json": out / "leaderboard.json",
        "leaderboard.tex": out / "leaderboard.tex",
        "index.html": out / "index.html",
    }
    settings = None
    if publication is not None:
        from regbench.report.render.bundle import write_bundle

        settings = write_bundle(out, runs, metrics, suite, publication)
        files.update(settings["files"])
    readme.write_markdown(lb, files["README.md"], made, settings)
    exports.write_csv(lb, files["leaderboard.csv"])
    exports.write_json(lb, files["leaderboard.json"])
    tex.write_tex(lb, files["leaderboard.tex"], tex_columns)
    html.write_site(lb, files["index.html"], made, settings)
    from regbench.report.render import versus_baseline

    if versus_baseline.write_csv(lb.versus_erm, out / "vs_erm.csv"):
        files["vs_erm.csv"] = out / "vs_erm.csv"
    if lb.mechanisms is not None and len(lb.mechanisms):
        from regbench.report.mechanism import render_markdown

        files["mechanisms.md"] = out / "mechanisms.md"
        files["mechanisms.md"].write_text(render_markdown(lb.mechanisms, str(suite.get("name", ""))), encoding="utf-8")
    lb.files = files | {p.name: p for p in made.values()}
    return lb


def render_terminal(leaderboard: Leaderboard, console=None, columns=None) -> None:
    """Print the main table with rich: the compact columns unless ``columns`` are given."""
    from regbench.report.render.terminal import render_terminal as render

    render(leaderboard, console, columns)
