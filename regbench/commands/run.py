"""``regbench run SUITE``: train every benchmark × regularizer × seed not yet in the store.

Exit status (README, "The command line"): 0 when every planned run is recorded ``ok`` or
``collapsed`` (a result: counted on the leaderboard, never ranked); 1 when any planned run is
``failed`` or ``diverged`` (or the suite, store or options are unusable);
2 for a malformed command line; 3 when the only runs missing are leased by another live
process; 130 when interrupted.
"""

from __future__ import annotations

import sys
from pathlib import Path

from regbench.commands.options import add_device, add_scaling, add_store, ints, names, scaling_kwargs, select


def add_parser(sub) -> None:
    r = sub.add_parser("run", help="train every benchmark × regularizer × seed of a suite not yet in the store")
    r.add_argument("suite", help="suite name (see `regbench list suites`) or path to a suite YAML")
    r.add_argument("--regularizers", type=names, help="only these regularizer configs (comma-separated)")
    r.add_argument("--seeds", type=ints, help="only these seeds (comma-separated)")
    add_device(r)
    r.add_argument("--executor", default="local", help="local | ray | slurm (default local)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument(
        "--sweep",
        type=int,
        metavar="N",
        help="N configs per regularizer from the search spaces; select per benchmark on ID validation",
    )
    r.add_argument("--sweep-seed", type=int, default=0, help="seed of the sweep's random draws (default 0)")
    r.add_argument(
        "--select",
        choices=["val_accuracy", "val_loss", "one_se"],
        help="selection rule (default: the suite's): best mean val accuracy / val loss, or one_se, the "
        "one-standard-error rule with the mechanism tie-break that chose ood.yaml's strengths",
    )
    r.add_argument(
        "--per-suite",
        action="store_true",
        help="with --sweep: one config per regularizer for all benchmarks (default: per benchmark)",
    )
    r.add_argument(
        "--emit-yaml",
        metavar="FILE",
        help="with --sweep --per-suite: write the chosen configs as the suite's regularizers: rows, with generated comments",
    )
    r.add_argument("--oracle", action="store_true", help="also print the test-domain (oracle) selection, separately")
    r.add_argument("--spaces", default=None, help="search-space file (default: the shipped regularizers.yaml)")
    r.add_argument(
        "--out", default=None, help="where --sweep writes selection.md and selection.json (default leaderboard/SUITE)"
    )
    add_scaling(r)
    add_store(r)


def run(args) -> int:
    # imported here, not at the top: they import torch, which `regbench --help` should not wait for
    from regbench.train.execution import prepare_process

    prepare_process()  # before anything in this process uses CUDA (in-process runs)
    from regbench.harness.budget_curve import budget_plan
    from regbench.harness.numerics import bind_numerics
    from regbench.harness.plan import load_suite
    from regbench.store import Store
    from regbench.train.loop import DeviceError, resolve_device

    plan = select(load_suite(args.suite), args.regularizers, args.seeds)
    if args.device != "cpu" and args.executor == "local":  # remote workers have their own devices
        try:
            resolve_device(args.device)
        except DeviceError as err:
            from regbench.report.render.escape import plain

            print(f"error: {plain(err)}", file=sys.stderr)
            return 1
    # the run keys cover device type, precision and threads: fixed here as run_plan will fix them
    plan = bind_numerics(plan, args.device, args.executor, args.deterministic, args.threads)
    warn_threads(args.threads)
    store = Store(args.store)
    progress = not args.no_progress and sys.stderr.isatty()
    if args.sweep is not None:
        return run_sweep_command(args, plan, store, progress)
    planned = train(plan.suite.name, plan, store, args, progress)
    # the suite's budget curve (budget_curve:), after its own runs so that the shared budget is reused
    curve = budget_plan(plan)
    if curve is not None:
        curve = bind_numerics(curve, args.device, args.executor, args.deterministic, args.threads)
        planned += train(f"{curve.members_name} (budget curve)", curve, store, args, progress)
    print(next_steps(args.suite, plan.suite.name, args.store))
    return exit_status(store.statuses(planned), planned)


def train(label: str, plan, store, args, progress: bool) -> list[str]:
    """Say what ``plan`` will train and reuse, train it, report the counts; its run keys."""
    from regbench.harness.run_plan import run_plan  # torch: only when something trains

    keys = [r.run_key for r in plan.runs]
    todo = len(set(keys) - store.done_keys(keys))
    print(f"{label}: {len(keys)} runs planned, {todo} runs to do, {len(keys) - todo} reused")
    counts = run_plan(
        plan,
        store,
        workers=args.workers,
        device=args.device,
        executor=args.executor,
        progress=progress,
        **scaling_kwargs(args),
    )
    report_counts(counts)
    return keys


def warn_threads(threads: int | None) -> None:
    """Say once, on stderr, that runs with another thread count than the default are not the
    published ones: a reduction split over more threads sums in another order, so their
    numbers differ, and so do their run keys (the records say which, in ``env.threads``)."""
    from regbench.train.execution import DEFAULT_THREADS

    if threads is not None and threads != DEFAULT_THREADS:
        print(
            f"note: --threads {threads}: each run computes with {threads} intra-op threads, not the default "
            f"{DEFAULT_THREADS} that published leaderboards use; its numbers (and run keys) differ from "
            f"theirs, and its records say threads={threads}",
            file=sys.stderr,
        )


def report_counts(counts: dict) -> None:
    """What this invocation trained, took over, and left to other processes."""
    if counts.get("reclaimed"):
        print(f"{counts['reclaimed']} runs reclaimed from expired leases (their process is gone)")
    if counts["trained"]:
        print(
            f"trained {counts['trained']} runs in {counts.get('seconds', 0):.1f} s: {counts['ok']} ok, "
            f"{counts['failed']} failed, {counts['diverged']} diverged, {counts.get('collapsed', 0)} collapsed"
        )
    if counts.get("elsewhere"):
        print(
            f"{counts['elsewhere']} running elsewhere (leased by another live regbench process on this store); "
            "run the same command later to see them"
        )


def exit_status(statuses: dict[str, str], planned: list[str]) -> int:
    """0 when every planned run is recorded ``ok`` or ``collapsed``; 1 when any is failed or
    diverged; 3 when none is, but some are not recorded yet (another process is training them).

    A collapsed run (one predicted class, or chance train accuracy) is a result, not an error:
    ``make bench`` goes on to the leaderboard, which counts it and leaves it out of the ranks."""
    bad: dict[str, int] = {}
    collapsed = 0
    for key in dict.fromkeys(planned):
        status = statuses.get(key, "not recorded")
        if status == "collapsed":
            collapsed += 1
        elif status != "ok":
            bad[status] = bad.get(status, 0) + 1
    if collapsed:
        print(f"{collapsed} run(s) collapsed: recorded, counted on the leaderboard, not ranked", file=sys.stderr)
    if not bad:
        return 0
    code = 1 if bad.keys() - {"not recorded"} else 3
    what = ", ".join(f"{n} {status}" for status, n in sorted(bad.items()))
    print(f"not every planned run is ok: {what} (exit status {code})", file=sys.stderr)
    return code


def next_steps(suite_arg: str, suite_name: str, store: str) -> str:
    """What to run next: the leaderboard of these runs, and where it will be written."""
    from regbench.store import DEFAULT_STORE

    store_opt = "" if str(store) == DEFAULT_STORE else f" --store {store}"
    return (
        f"next: regbench leaderboard {suite_arg}{store_opt}\n"
        f"      prints the ranked table and writes leaderboard/{suite_name}/\n"
        "      (README.md, index.html, leaderboard.csv/.json/.tex, plots)"
    )


def run_sweep_command(args, plan, store, progress: bool) -> int:
    """``run --sweep N``: the sweep, its validation-only selection, selection.md and selection.json."""
    from regbench.commands.run_sweep import run_sweep
    from regbench.sweep import DEFAULT_SPACES

    if args.sweep < 1:
        print(f"error: --sweep needs N >= 1, got {args.sweep}", file=sys.stderr)
        return 2
    if args.emit_yaml and not args.per_suite:
        print("error: --emit-yaml needs --per-suite (a suite row is one config for all benchmarks)", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("leaderboard") / plan.suite.name
    counts, text = run_sweep(
        plan,
        store,
        args.sweep,
        args.sweep_seed,
        args.select,
        args.oracle,
        args.spaces or DEFAULT_SPACES,
        out,
        per_suite=args.per_suite,
        emit_yaml=Path(args.emit_yaml) if args.emit_yaml else None,
        workers=args.workers,
        device=args.device,
        executor=args.executor,
        progress=progress,
        run_timeout=args.run_timeout,
        deterministic=args.deterministic,
        threads=args.threads,
    )
    print(text, end="")
    print(
        f"({counts['planned']} runs: {counts['reused']} reused, {counts['trained']} trained; "
        f"selection written to {out / 'selection.md'} and selection.json"
        + (f"; suite rows to {args.emit_yaml}" if args.emit_yaml else "")
        + ")"
    )
    return exit_status(counts["statuses"], counts["planned_keys"])
