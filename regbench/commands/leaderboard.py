"""``regbench leaderboard``: store → report frames → files in ``leaderboard/<suite>/``.

Reads the suite file for its metadata, the store for the records, and plans the suite for its
fully resolved settings, which the publication bundle publishes (docs/architecture.md, Leaderboard).
"""

from __future__ import annotations

from pathlib import Path

from regbench.commands.options import add_store, names, out_dir, positive_int
from regbench.config import SUITES_DIR, read_suite_file, suite_path
from regbench.store import Store
from regbench.version import published_path


def suite_meta(suite_name_or_path: str) -> dict:
    """The suite's description and settings for the report."""

    path = suite_path(suite_name_or_path)
    s = read_suite_file(path)
    return {
        "name": s.name,
        "description": s.description,
        "caveat": s.caveat,
        "seeds": list(s.seeds),
        "primary_metric": s.primary_metric,
        "selection": s.selection,
        "train": s.train.model_dump(mode="json"),
        "benchmarks": [
            {
                "name": b.name,
                "dataset": b.dataset,
                "model": b.model,
                "shift_kind": b.shift.kind,
                # the pairs that cannot run: "n/a" cells (report/table/not_applicable.py)
                **({"not_applicable": dict(b.not_applicable)} if b.not_applicable else {}),
            }
            for b in s.benchmarks
        ],
        "regularizers": [r.display for r in s.regularizers],
        # relative to the repository (suites/ood.yaml) or the working directory: never a local path
        "source": published_path(path, SUITES_DIR),
        "budget_curve": s.budget_curve.model_dump(mode="json") if s.budget_curve else None,
    }


def publication(suite_name_or_path: str, store: Store, suite: str) -> dict:
    """What the publication bundle needs beyond the report frames, as plain dicts: the suite
    file's text and published path, its resolved configuration (from the plan), each run's
    env and record time, and what the table is built with (render/bundle.py)."""
    from importlib import metadata
    from platform import python_version

    from regbench.harness.plan import load_suite
    from regbench.version import __version__, git_commit

    path = suite_path(suite_name_or_path)
    plan = load_suite(path)

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "suite_file": published_path(path, SUITES_DIR),
        "suite_yaml": path.read_text(encoding="utf-8"),
        "config": resolved_config(plan),
        "provenance": store.provenance(suite),
        "built_with": {
            "regbench": __version__,
            "git_commit": git_commit(),
            "numpy": version("numpy"),
            "pandas": version("pandas"),
            "python": python_version(),
        },
    }


def resolved_config(plan) -> dict:
    """config.json: per benchmark its data, model, shift and training with every default filled
    in; per regularizer row its kind and each stack member's resolved parameters."""
    benchmarks: dict[str, dict] = {}
    regularizers: dict[str, dict] = {}
    for r in plan.runs:
        b = r.benchmark
        benchmarks.setdefault(
            b.spec.name,
            {
                "name": b.spec.name,
                "dataset": b.loader,
                "dataset_args": b.dataset_args,
                "data_seed": b.spec.data_seed,
                "model": b.spec.model,
                "model_args": b.model_args,
                "shift": {"kind": b.spec.shift.kind, "params": b.shift_params},
                "train": r.train.model_dump(mode="json"),
                **({"not_applicable": dict(b.spec.not_applicable)} if b.spec.not_applicable else {}),
            },
        )
        members = zip(r.regularizer.stack, r.reg_params, r.code)
        regularizers.setdefault(
            r.regularizer.display,
            {
                "label": r.regularizer.display,
                "kind": r.kind,
                "stack": [{"name": m.name, "params": p, **({"code": c} if c else {})} for m, p, c in members],
            },
        )
    s = plan.suite
    return {
        "suite": s.name,
        "seeds": list(s.seeds),
        "primary_metric": s.primary_metric,
        "selection": s.selection,
        "benchmarks": list(benchmarks.values()),
        "regularizers": list(regularizers.values()),
    }


def write_leaderboard(
    suite: str,
    store_path: str,
    out_dir: Path,
    show: bool = True,
    plots: bool = True,
    reps: int = 1000,
    echo=print,
    view: dict | None = None,
    members: str | None = None,
):
    """Build every leaderboard file of ``suite`` into ``out_dir`` and print the main table.

    view: how to print it — ``columns`` (names), ``full`` (bool), ``format``
    (terminal | markdown | csv) and ``tex_columns`` (names); defaults: the compact view.
    members: the store name whose rows to show (default: the suite's own, i.e. exactly its
    declared configs); ``compare`` passes its namespace, which adds the submission's rows.
    """
    view = view or {}
    from regbench.report import build_leaderboard

    meta = suite_meta(suite)
    store = Store(store_path, readonly=True)
    runs, metrics, reliability = store.frames(members or meta["name"])
    missing = runs["status"] == "missing"
    if missing.any():
        echo(
            f"note: {int(missing.sum())} planned runs of '{meta['name']}' are not in the store yet "
            f"(run `regbench run {suite}`); the leaderboard shows the {int((~missing).sum())} recorded"
        )
        runs = runs[~missing].reset_index(drop=True)
    if runs.empty:
        from regbench.config import ConfigError

        raise ConfigError(f"no runs of suite '{meta['name']}' in {store_path}; run `regbench run {suite}` first")
    diag = diagnostics(store, runs, metrics, meta["name"], Path(out_dir), plots)
    titles = {
        "bias_variance.png": "Bias and variance: is the error bias or seed-to-seed variance?",
        "learning_curves.png": "Learning curves: does a regularizer over- or underfit?",
        "error_vs_width.png": "Test error vs width: does a regularizer flatten double descent?",
    }
    extra = {titles[k]: v for k, v in diag.files.items() if k in titles}
    curve = budget_curve(store, meta, runs, Path(out_dir), plots)
    if curve is not None and curve["plot"] is not None:
        extra[curve["title"]] = curve["plot"]
    board = build_leaderboard(
        runs,
        metrics,
        reliability,
        meta,
        Path(out_dir),
        reps=reps,
        plots=plots,
        extra_plots=extra,
        tex_columns=view.get("tex_columns"),
        publication=publication(suite, store, meta["name"]),
        outcomes=store.outcomes(runs.loc[runs["status"] == "ok", "run_key"]),
    )
    append_section(
        Path(out_dir) / "README.md",
        "Diagnostics (why a regularizer works)",
        diag_markdown(Path(out_dir) / "diagnostics.md"),
    )
    if curve is not None:
        append_section(Path(out_dir) / "README.md", "Budget curve (accuracy vs epochs)", curve["markdown"])
    append_selection(Path(out_dir))
    if show:
        show_table(board, view, echo)
        written = written_files(board, diag, Path(out_dir))
        note = echo if view.get("format", "terminal") == "terminal" else _stderr
        note(wrote_message(written, Path(out_dir)))
    return board


def show_table(board, view: dict, echo=print) -> None:
    """The main table: rich in a terminal, or markdown / csv text for a pipe."""
    from regbench.report.table.column_choice import choose_columns

    columns = choose_columns(board, view.get("columns"), bool(view.get("full")))
    fmt = view.get("format", "terminal")
    if fmt == "terminal":
        from rich.console import Console

        from regbench.report import render_terminal

        console = Console()
        if not console.is_terminal:  # captured (make, CI logs): a wide log line beats split tables
            console = Console(width=160)
        render_terminal(board, console, columns)
    else:
        from regbench.report.render.terminal import format_text

        echo(format_text(board, columns, fmt), end="")


def written_files(board, diag, out_dir: Path) -> list[Path]:
    """Every file this build wrote (leaderboard and diagnostics, each plot's SVG beside its
    PNG), each once, that exists."""
    files = [Path(p) for p in [*board.files.values(), *diag.files.values()]]
    files += [p.with_suffix(".svg") for p in files if p.suffix == ".png"]
    paths = {p.resolve(): p for p in files if p.is_file()}
    return sorted(paths.values(), key=lambda p: p.name)


def wrote_message(written: list[Path], out_dir: Path) -> str:
    """'wrote 17 files to DIR/', their count per suffix, and where to start reading (< 80 columns)."""
    from collections import Counter

    kinds = Counter(p.suffix or p.name for p in written)
    by_kind = ", ".join(f"{n} {suffix}" for suffix, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
    return (
        f"wrote {len(written)} files to {out_dir}/\n  {by_kind}\n"
        "read index.html (one offline page) or README.md; put leaderboard.tex in a paper"
    )


def _stderr(text: str) -> None:
    import sys

    print(text, file=sys.stderr)


def diagnostics(store: Store, runs, metrics, suite: str, out_dir: Path, plots: bool):
    """Bias–variance, overfitting diagnoses, MIA and temperature per regularizer (diagnostics.md)."""
    from regbench.report.diagnostics.markdown import build_diagnostics

    ok = runs[runs["status"] == "ok"]
    preds = store.predictions_frame(ok["run_key"])
    return build_diagnostics(runs, metrics, preds, suite, out_dir, plots=plots)


def budget_curve(store: Store, meta: dict, runs, out_dir: Path, plots: bool) -> dict | None:
    """The suite's budget curve (``budget_curve:``, runs stored under ``<suite>-budget``):
    budget_curve.md and budget_curve.png in ``out_dir``; returns {"markdown", "plot" (PNG path
    or None), "title"}, or None when the suite declares no curve or none of its runs is stored."""
    if meta.get("budget_curve") is None:
        return None
    from regbench.config import BudgetCurveSpec
    from regbench.report.render import budget_curve as render
    from regbench.report.render import theme
    from regbench.report.table.budget_curve import budget_cells
    from regbench.report.table.run_rows import run_table

    spec = BudgetCurveSpec.model_validate(meta["budget_curve"])
    names = {spec.benchmark_name(b["name"], e): (b["name"], e) for b in meta["benchmarks"] for e in spec.epochs}
    curve_runs, curve_metrics, _ = store.frames(spec.suite_name(meta["name"]))
    curve_runs = curve_runs[curve_runs["status"] != "missing"].reset_index(drop=True)
    for stale in (out_dir / "budget_curve.md", out_dir / render.FILE, theme.svg_of(out_dir / render.FILE)):
        stale.unlink(missing_ok=True)  # no curve from an earlier build beside a new table
    if curve_runs.empty:
        return None
    cells = budget_cells(run_table(curve_runs, curve_metrics), names)
    suite_epochs = meta["train"]["epochs"]
    body = (
        f"{', '.join(f'`{r}`' for r in spec.regularizers)} trained for {', '.join(map(str, spec.epochs))} epochs "
        f"(the suite's own budget is {suite_epochs}), every seed, stored under the suite "
        f"`{spec.suite_name(meta['name'])}` and never ranked. Mean accuracy (%) over seeds with its 95% "
        "interval (seed spread plus the test split's binomial error); `− erm`: the paired difference to "
        "erm at the same budget over the seeds both ran (points, paired Student-t 95% interval, p).\n\n"
        + render.budget_curve_markdown(cells, suite_epochs)
    )
    (out_dir / "budget_curve.md").write_text(f"# Budget curve ({meta['name']})\n\n{body}\n", encoding="utf-8")
    kinds = dict(zip(curve_runs["regularizer"], curve_runs["regularizer_kind"].fillna("none")))
    plot = theme.save(render.budget_curve_plot(cells, kinds), out_dir / render.FILE) if plots else None
    return {"markdown": body, "plot": plot, "title": render.TITLE}


def diag_markdown(path: Path) -> str:
    """diagnostics.md without its title, headings one level down, for the leaderboard README."""
    lines = path.read_text().splitlines()[1:]
    return "\n".join(("#" + line) if line.startswith("## ") else line for line in lines).strip()


def append_section(readme: Path, title: str, body: str) -> None:
    readme.write_text(readme.read_text().rstrip() + f"\n\n## {title}\n\n{body}\n")


def append_selection(out_dir: Path) -> None:
    """If a sweep selected configs of this suite (``selection.md`` from ``regbench run --sweep``),
    add its selection to README.md, apart from the rows (which stay the declared configs)."""
    selection = out_dir / "selection.md"
    readme = out_dir / "README.md"
    if selection.exists() and readme.exists():
        # the oracle table (if --oracle) stays in selection.md only: never beside the ranking;
        # so do the per-candidate reasons (selection.md and selection.json hold them)
        body = selection.read_text().split("## Oracle selection")[0].split("## Candidates and reasons")[0].strip()
        readme.write_text(
            readme.read_text().rstrip() + "\n\n## Selected configurations (sweep)\n\n"
            "The configs a sweep chose on ID validation; its runs are in the store under the suite "
            "`<suite>-sweep`, and every candidate with its reason is in selection.md and selection.json.\n\n"
            + body
            + "\n"
        )


def add_parser(sub) -> None:
    lb = sub.add_parser("leaderboard", help="build the leaderboard of a suite from the store")
    lb.add_argument("suite")
    lb.add_argument("--out", default=None, help="output folder (default leaderboard/SUITE)")
    lb.add_argument("--reps", type=positive_int, default=1000, help="bootstrap resamples for the CIs (default 1000)")
    lb.add_argument("--no-plots", action="store_true", help="tables and page only (faster)")
    lb.add_argument("--full", action="store_true", help="print every column, not the compact set")
    lb.add_argument("--columns", type=names, help="print these columns (keys such as ood_accuracy,ece_ood)")
    lb.add_argument(
        "--format",
        choices=["terminal", "markdown", "csv"],
        default="terminal",
        help="how to print the main table: terminal (rich), or markdown / csv for pipes",
    )
    lb.add_argument("--tex-columns", type=names, help="columns of leaderboard.tex (default: the compact set)")
    add_store(lb)


def run(args) -> int:
    from regbench.report.table.column_choice import check_names

    check_names(args.columns)
    check_names(args.tex_columns)
    view = {"columns": args.columns, "full": args.full, "format": args.format, "tex_columns": args.tex_columns}
    write_leaderboard(
        args.suite, args.store, out_dir(args, args.suite), plots=not args.no_plots, reps=args.reps, view=view
    )
    return 0
