"""``regbench compare SPEC --suite SUITE``: a new regularizer against the suite's baselines.

Plans the suite's benchmarks × seeds for the new regularizer and for every baseline config
of the suite (plus erm if the suite lacks it), trains only what the store does not already
hold — baseline runs are reused by run key — marks the new runs as a submission, and writes
``leaderboard/<suite>/compare-<name>-<hash>.md`` (see :mod:`regbench.report.compare`),
``<hash>`` identifying the submission's spec, parameters and code. The comparison's runs are
registered under ``<suite>/compare/<name>-<hash>``, never as rows of the suite; its leaderboard
(the baselines and the submission, marked ``*``) goes to ``compare-<name>-<hash>/`` beside
the report, so ``regbench leaderboard SUITE`` and another variant's files are left as they were.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from regbench.commands.options import add_device, add_store, usable_folder
from regbench.commands.list import show


def compare(
    spec: str,
    suite: str | Path,
    params: dict[str, Any],
    store_path: str | Path,
    name: str | None = None,
    out_dir: str | Path | None = None,
    **run_args: Any,
) -> tuple[int, str, Path, str]:
    """Run the comparison; return (exit code, markdown report, the file it was written to, the
    store name its runs are registered under). Exit 1 when the new regularizer has no
    finished run (its errors are in the report), else 0."""
    # imported here: they import torch and pandas, which `regbench --help` should not wait for
    from regbench.harness.compare_plan import plan_compare
    from regbench.harness.numerics import bind_numerics
    from regbench.harness.run_plan import run_plan
    from regbench.harness.sweep_plan import labelled_records
    from regbench.report.compare import PRIMARY, build_sections, resolution_line
    from regbench.report.render.compare_report import render
    from regbench.report.render.markdown import md
    from regbench.store import Store
    from regbench.version import __version__

    full, new_runs, baselines, name, identity = plan_compare(spec, suite, params, name)
    full = bind_numerics(full, **run_args)  # the keys run_plan trains under, to reuse and read back
    new_runs = tuple(r for r in full.runs if r.regularizer.display == name)
    store = Store(store_path)
    base_keys = {r.run_key for r in full.runs} - {r.run_key for r in new_runs}
    reused_base = len(store.done_keys(base_keys))
    reused_new = len(store.done_keys(r.run_key for r in new_runs))
    show(  # the plan before training, as `run` prints it: what is reused and what trains (wrapped in a terminal)
        f"{full.suite.name}: {len(full.runs)} runs planned: {len(new_runs)} of {name} ({reused_new} reused, "
        f"{len(new_runs) - reused_new} to train), {len(base_keys)} baseline runs ({reused_base} reused, "
        f"{len(base_keys) - reused_base} to train)",
        indent=2,
    )
    counts = run_plan(full, store, **run_args)
    store.mark_submission([r.run_key for r in new_runs])
    records = labelled_records(store, full)
    suite_spec = full.suite
    benches = [b.name for b in suite_spec.benchmarks]
    outcomes = store.outcomes(r["run_key"] for r in records if r["status"] == "ok")
    sections = build_sections(
        records, name, baselines, benches, suite_spec.seeds, suite_spec.primary_metric, outcomes=outcomes
    )
    resolution = resolution_line(sections, PRIMARY[suite_spec.primary_metric][1], len(suite_spec.seeds))
    params_text = ", ".join(f"{k}={v}" for k, v in sorted(new_runs[0].reg_params[0].items())) or "none"
    header = [
        f"# {md(name)} vs the baselines of suite {md(suite_spec.name)}",
        "",
        f"New regularizer `{md(spec)}` (parameters: {md(params_text)}), "
        f"code {new_runs[0].code[0] or 'regbench ' + __version__}; baselines: {md(', '.join(baselines))}.",
        f"Its runs: {reused_new} of {len(new_runs)} reused from the store (same code and parameters), "
        f"{len(new_runs) - reused_new} trained now.",
        f"Seeds {list(suite_spec.seeds)}; {len(full.runs)} runs planned: {len(new_runs)} of the new regularizer, "
        f"{len(base_keys)} baseline runs of which {reused_base} were reused from the store and "
        f"{len(base_keys) - reused_base} trained now.",
        f"Verdicts are on the suite's primary metric ({suite_spec.primary_metric}). A win needs the 95% CI of "
        "the paired difference (over seeds and test images, the test the leaderboard's tiers use) to exclude 0 "
        "in the new regularizer's favour and the difference to stay significant after Holm-Bonferroni across "
        "the benchmarks and the overall row (each distinct training setup once); a loss needs the same "
        "against; anything else is inconclusive. Every other metric (ID accuracy, worst-group accuracy, ECE) "
        "that got significantly worse is listed under the verdict; train CPU time is shown, never claimed. "
        "The best baseline is the one with the highest validation accuracy, picked without the test set.",
    ]
    if resolution:
        header.append(resolution)
    failed = [r for r in records if r["regularizer"] == name and r["status"] != "ok"]
    if failed:
        first = (failed[0].get("error") or "").strip().splitlines()
        header += [
            "",
            f"**{len(failed)} of {len(new_runs)} runs of {md(name)} did not finish** "
            f"({failed[0]['status']}): {md(first[0]) if first else 'no error text'}",
        ]
    text = render(sections, name, suite_spec.primary_metric, header)
    out = Path(out_dir) if out_dir else Path("leaderboard") / suite_spec.name
    out.mkdir(parents=True, exist_ok=True)
    report = out / f"compare-{identity}.md"
    report.write_text(text)
    counts["reused_baseline"] = reused_base
    ok_new = sum(1 for r in records if r["regularizer"] == name and r["status"] == "ok")
    return (0 if ok_new else 1), text, report, full.members_name


def add_parser(sub) -> None:
    c = sub.add_parser("compare", help="compare a new regularizer with a suite's baselines (reusing stored runs)")
    c.add_argument("spec", help="registered name, package.module:Class, path/to/file.py:Class or entry point")
    c.add_argument("--suite", required=True, help="suite name or path")
    c.add_argument("--param", action="append", default=[], metavar="K=V", help="constructor argument (repeatable)")
    c.add_argument("--params-yaml", default=None, metavar="FILE", help="constructor arguments as a YAML mapping")
    c.add_argument("--name", default=None, help="display name (default: the registered or class name)")
    add_device(c)
    c.add_argument("--out", default=None, help="output folder (default leaderboard/SUITE)")
    c.add_argument(
        "--no-leaderboard", action="store_true", help="do not write the comparison's leaderboard (beside the report)"
    )
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_store(c)


def run(args) -> int:
    from regbench.commands.leaderboard import write_leaderboard
    from regbench.harness.compare_plan import parse_params

    if args.device != "cpu":  # an unusable device is refused before anything is planned, as `run` does
        from regbench.train.loop import DeviceError, resolve_device

        try:
            resolve_device(args.device)
        except DeviceError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    params = parse_params(args.param, args.params_yaml)
    out = usable_folder(args.out) if args.out else None  # before any training
    code, text, report, members = compare(
        args.spec,
        args.suite,
        params,
        args.store,
        args.name,
        out,
        workers=args.workers,
        device=args.device,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    show_report(text)
    print(f"wrote {report}")
    if not args.no_leaderboard:  # beside the report, never over the suite's own leaderboard
        board_dir = report.parent / report.stem
        write_leaderboard(args.suite, args.store, board_dir, show=False, members=members)
        show(f"wrote the comparison's leaderboard to {board_dir}/ (the new regularizer is marked *)", indent=2)
    return code


def show_report(text: str, console=None) -> None:
    """The report rendered by rich in a terminal (headings, bold, tables); the Markdown
    itself when stdout is a pipe or file, so it can be saved or grepped as it is."""
    from rich.console import Console
    from rich.markdown import Markdown

    console = console or Console()
    if console.is_terminal:
        console.print(Markdown(tables_as_lists(half_widths(text)) if console.width < WIDE else text))
    else:
        console.file.write(text)


WIDE = 120  # below this many columns, table intervals print as ± half-widths (one line per cell)
_INTERVAL = re.compile(r"([+-]?\d+\.\d+) \[([+-]?\d+\.\d+), ([+-]?\d+\.\d+)\]")


def half_widths(text: str) -> str:
    """'+0.56 [-3.68, +4.79]' → '+0.56 ±4.24' (a number directly followed by its interval:
    the table cells; "CI [lo, hi]" in the verdict sentences keeps its bounds)."""

    def pm(m: re.Match) -> str:
        digits = len(m.group(1).split(".")[1])
        return f"{m.group(1)} ±{(float(m.group(3)) - float(m.group(2))) / 2:.{digits}f}"

    return _INTERVAL.sub(pm, text)


def tables_as_lists(text: str) -> str:
    """Each Markdown table as a list, one item per row: ``- **name**: header value; …``.

    A narrow terminal squeezes a table's columns until names read ``confide…`` and values wrap;
    as a list, every name and value is shown whole and lines wrap between cells."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not (
            lines[i].startswith("|") and i + 1 < len(lines) and set(lines[i + 1].replace("|", "").strip()) <= set("-: ")
        ):
            out.append(lines[i])
            i += 1
            continue
        header = _cells(lines[i])
        i += 2  # the header and the |---| line
        while i < len(lines) and lines[i].startswith("|"):
            cells = _cells(lines[i])
            pairs = "; ".join(f"{h} {c}" for h, c in zip(header[1:], cells[1:]) if c)
            out.append(f"- **{cells[0]}**: {pairs}" if pairs else f"- **{cells[0]}**")
            i += 1
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]
