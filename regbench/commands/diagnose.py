"""``regbench diagnose SUITE``: store → diagnostics frames → files in ``leaderboard/<suite>/``.

Reads the suite file only for its name (no torch), the store for the records, and prints the
diagnostics table with rich.
"""

from __future__ import annotations

from pathlib import Path

from regbench.commands.options import add_store, out_dir
from regbench.store import Store


def write_diagnostics(suite: str, store_path: str, out_dir: Path, show: bool = True, plots: bool = True):
    """Build the diagnostics of ``suite`` into ``out_dir`` and print the table."""
    from regbench.config import ConfigError, read_suite_file, suite_path
    from regbench.report.diagnostics.markdown import build_diagnostics

    name = read_suite_file(suite_path(suite)).name
    store = Store(store_path, readonly=True)
    runs, metrics, _ = store.frames(name)
    if runs.empty:
        raise ConfigError(f"no runs of suite '{name}' in {store_path}; run `regbench run {suite}` first")
    preds = store.predictions_frame(runs["run_key"])
    d = build_diagnostics(runs, metrics, preds, name, out_dir, plots=plots)
    if show:
        render(d, name)
    return d


def render(d, suite: str, console=None) -> None:
    """Print the diagnostics table and its thresholds to the terminal."""
    from rich.console import Console
    from rich.table import Table

    from regbench.report.diagnostics.markdown import table_rows
    from regbench.report.render.escape import terminal as term

    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or captured: don't squeeze the 13 columns into 80
            console = Console(width=200)
    header, rows = table_rows(d.table)
    header = [term(h, one_line=True) for h in header]
    rows = [[term(cell, one_line=True) for cell in r] for r in rows]  # labels are text, never rich markup
    keys = [i for i, h in enumerate(header) if h in ("Benchmark", "Regularizer")]
    others = [i for i in range(len(header)) if i not in keys]

    def table(cols: list[int], part: str = "") -> Table:
        t = Table(title=term(f"{suite}: diagnostics{part}", one_line=True), header_style="bold")
        for i in [*keys, *cols]:
            t.add_column(header[i], justify="left" if i in keys else "right", no_wrap=True)
        for r in rows:
            t.add_row(*(r[i] for i in [*keys, *cols]))
        return t

    # too wide for the terminal: split the columns into parts that each repeat the row's names,
    # rather than cut every cell to "0.…"
    parts: list[list[int]] = [[]]
    for i in others:
        if parts[-1] and _natural_width(console, table([*parts[-1], i])) > console.width:
            parts.append([])
        parts[-1].append(i)
    for k, cols in enumerate(parts):
        console.print(table(cols, f" (columns, part {k + 1} of {len(parts)})" if len(parts) > 1 else ""))
    console.print(f"[dim]{d.thresholds.describe()}[/dim]")
    console.print(term(f"wrote {len(d.files)} files: {', '.join(sorted(d.files))}"))


def _natural_width(console, table) -> int:
    """The width ``table`` takes unclamped by the terminal."""
    wide = console.options.update(width=10_000, max_width=10_000)
    return console.measure(table, options=wide).maximum


def add_parser(sub) -> None:
    dg = sub.add_parser("diagnose", help="bias/variance, churn, over/underfitting and MIA diagnostics of a suite")
    dg.add_argument("suite")
    dg.add_argument("--out", default=None, help="output folder (default leaderboard/SUITE)")
    dg.add_argument("--no-plots", action="store_true", help="tables and diagnostics.md only")
    add_store(dg)


def run(args) -> int:
    write_diagnostics(args.suite, args.store, out_dir(args, args.suite), plots=not args.no_plots)
    return 0
