"""The ``regbench`` command. Imports are lazy so ``--help`` and ``validate`` start fast."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from regbench.store import DEFAULT_STORE


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="regbench", description="Benchmark regularizers under distribution shift.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def store_arg(sp):
        sp.add_argument("--store", default=DEFAULT_STORE, help=f"results store (default {DEFAULT_STORE})")

    r = sub.add_parser("run", help="train every benchmark × regularizer × seed of a suite not yet in the store")
    r.add_argument("suite", help="suite name (suites/NAME.yaml) or path to a suite YAML")
    r.add_argument("--regularizers", type=_names, help="only these regularizer configs (comma-separated)")
    r.add_argument("--seeds", type=_ints, help="only these seeds (comma-separated)")
    r.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    r.add_argument("--device", default="cpu", help="auto | cpu | cuda[:N] (default cpu)")
    r.add_argument("--executor", default="local", help="local | ray | slurm (default local)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    store_arg(r)

    lb = sub.add_parser("leaderboard", help="build the leaderboard of a suite from the store")
    lb.add_argument("suite")
    lb.add_argument("--out", default=None, help="output folder (default leaderboard/SUITE)")
    store_arg(lb)

    dg = sub.add_parser("diagnose", help="bias/variance, churn, over/underfitting and MIA diagnostics of a suite")
    dg.add_argument("suite")
    dg.add_argument("--out", default=None, help="output folder (default leaderboard/SUITE)")
    dg.add_argument("--no-plots", action="store_true", help="tables and diagnostics.md only")
    store_arg(dg)

    ls = sub.add_parser("list", help="list registered regularizers, models, datasets, shifts or suites")
    ls.add_argument("what", choices=["regularizers", "models", "datasets", "shifts", "suites"])

    v = sub.add_parser("validate", help="check a suite file; exit 0 if valid, 1 if not")
    v.add_argument("suite")

    ex = sub.add_parser("export", help="write every run record as JSONL, CSV or parquet")
    ex.add_argument("--format", choices=["jsonl", "csv", "parquet"], default="jsonl")
    ex.add_argument("--out", default=None, help="output file (default: stdout for jsonl/csv)")
    ex.add_argument("--suite", default=None, help="only the runs of this suite")
    store_arg(ex)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from regbench.config import ConfigError
    from regbench.registry import UnknownNameError
    from regbench.store import StoreError

    try:
        return COMMANDS[args.command](args)
    except (ConfigError, UnknownNameError, StoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished runs are in the store; run the same command to resume", file=sys.stderr)
        return 130


def cmd_run(args) -> int:
    from regbench.plan import load_suite
    from regbench.store import Store

    plan = load_suite(args.suite)
    plan = select(plan, args.regularizers, args.seeds)
    if args.device != "cpu":
        from regbench.train import DeviceError, resolve_device

        try:
            resolve_device(args.device)
        except DeviceError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    store = Store(args.store)
    from regbench.runner import run_plan

    done = store.done_keys(r.run_key for r in plan.runs)
    todo = len({r.run_key for r in plan.runs} - done)
    print(f"{plan.suite.name}: {len(plan.runs)} runs planned, {todo} runs to do, {len(plan.runs) - todo} reused")
    counts = run_plan(plan, store, workers=args.workers, device=args.device, executor=args.executor,
                      progress=not args.no_progress and sys.stderr.isatty())
    if counts["trained"]:
        print(f"trained {counts['trained']} runs in {counts.get('seconds', 0):.1f} s: {counts['ok']} ok, "
              f"{counts['failed']} failed, {counts['diverged']} diverged")
    return 0


def select(plan, regularizers, seeds):
    """Restrict a plan to some regularizer configs (by display or first name) and seeds."""
    from dataclasses import replace

    from regbench.config import ConfigError

    runs = plan.runs
    if regularizers:
        known = {r.regularizer.display for r in runs} | {r.regularizer.stack[0].name for r in runs}
        unknown = [n for n in regularizers if n not in known]
        if unknown:
            from regbench.registry import UnknownNameError

            raise ConfigError(str(UnknownNameError("regularizer config in this suite", unknown[0], sorted(known))))
        runs = tuple(r for r in runs if r.regularizer.display in regularizers or r.regularizer.stack[0].name in regularizers)
    if seeds:
        missing = sorted(set(seeds) - set(plan.suite.seeds))
        runs = tuple(r for r in runs if r.seed in seeds)
        if missing:
            raise ConfigError(f"seeds {missing} are not in suite '{plan.suite.name}' (seeds: {list(plan.suite.seeds)})")
    return replace(plan, runs=runs)


def cmd_leaderboard(args) -> int:
    from regbench.leaderboard import write_leaderboard

    out = Path(args.out) if args.out else Path("leaderboard") / Path(args.suite).stem
    write_leaderboard(args.suite, args.store, out)
    return 0


def cmd_diagnose(args) -> int:
    from regbench.diagnose import write_diagnostics

    out = Path(args.out) if args.out else Path("leaderboard") / Path(args.suite).stem
    write_diagnostics(args.suite, args.store, out, plots=not args.no_plots)
    return 0


def cmd_list(args) -> int:
    if args.what == "suites":
        from regbench.config import read_suite_file
        from regbench.plan import SUITES_DIR

        for path in sorted(SUITES_DIR.glob("*.yaml")):
            if path.name == "regularizers.yaml":
                continue
            try:
                desc = read_suite_file(path).description.strip().splitlines()[0]
            except Exception as err:  # show a broken suite rather than hide it
                desc = f"(invalid: {err})"
            print(f"{path.stem:<24} {desc}")
        return 0
    from regbench.catalog import registries
    from regbench.registry import describe

    for name, obj in registries()[args.what].items():
        print(f"{name:<24} {describe(obj)}")
    return 0


def cmd_validate(args) -> int:
    from regbench.plan import load_suite

    plan = load_suite(args.suite)
    s = plan.suite
    print(f"{plan.source}: ok — {len(s.benchmarks)} benchmarks × {len(s.regularizers)} regularizer configs "
          f"× {len(s.seeds)} seeds = {len(plan.runs)} runs")
    return 0


def cmd_export(args) -> int:
    from regbench.export import export

    export(args.store, args.format, args.out, args.suite)
    return 0


COMMANDS = {
    "run": cmd_run, "leaderboard": cmd_leaderboard, "list": cmd_list, "validate": cmd_validate,
    "export": cmd_export, "diagnose": cmd_diagnose,
}

if __name__ == "__main__":
    sys.exit(main())
