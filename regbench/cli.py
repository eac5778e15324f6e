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
    r.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda[:N] (default auto)")
    r.add_argument("--executor", default="local", help="local | ray | slurm (default local)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument(
        "--sweep",
        type=int,
        metavar="N",
        help="N configs per regularizer from suites/regularizers.yaml; select per benchmark on ID validation",
    )
    r.add_argument("--sweep-seed", type=int, default=0, help="seed of the sweep's random draws (default 0)")
    r.add_argument("--select", choices=["val_accuracy", "val_loss"], help="selection criterion (default: the suite's)")
    r.add_argument("--oracle", action="store_true", help="also print the test-domain (oracle) selection, separately")
    r.add_argument("--spaces", default=None, help="search-space file (default suites/regularizers.yaml)")
    r.add_argument("--out", default=None, help="where --sweep writes selection.md (default leaderboard/SUITE)")
    add_scaling_args(r)
    store_arg(r)

    c = sub.add_parser("compare", help="compare a new regularizer with a suite's baselines (reusing stored runs)")
    c.add_argument("spec", help="registered name, package.module:Class, path/to/file.py:Class or entry point")
    c.add_argument("--suite", required=True, help="suite name or path")
    c.add_argument("--param", action="append", default=[], metavar="K=V", help="constructor argument (repeatable)")
    c.add_argument("--params-yaml", default=None, metavar="FILE", help="constructor arguments as a YAML mapping")
    c.add_argument("--name", default=None, help="display name (default: the registered or class name)")
    c.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    c.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda[:N] (default auto)")
    c.add_argument("--out", default=None, help="output folder (default leaderboard/SUITE)")
    c.add_argument("--no-leaderboard", action="store_true", help="do not rebuild the suite's leaderboard")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    store_arg(c)

    lb = sub.add_parser("leaderboard", help="build the leaderboard of a suite from the store")
    lb.add_argument("suite")
    lb.add_argument("--out", default=None, help="output folder (default leaderboard/SUITE)")
    lb.add_argument("--reps", type=int, default=1000, help="bootstrap resamples for the CIs (default 1000)")
    lb.add_argument("--no-plots", action="store_true", help="tables and page only (faster)")
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

    d = sub.add_parser("data", help="prepare (cache) a suite's splits, or download a real dataset")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    dp = dsub.add_parser("prepare", help="materialize every split of a suite into the cache")
    dp.add_argument("suite")
    dd = dsub.add_parser("download", help="download a real dataset with its library's own downloader (needs internet)")
    dd.add_argument("name", help="cifar10 | cifar10-c | wilds:<name> | hf:<id>[:config]")
    dd.add_argument("--root", default=None, help="data folder (default $REGBENCH_DATA or ~/.cache/regbench/data)")

    ex = sub.add_parser("export", help="write every run record as JSONL, CSV or parquet")
    ex.add_argument("--format", choices=["jsonl", "csv", "parquet"], default="jsonl")
    ex.add_argument("--out", default=None, help="output file (default: stdout for jsonl/csv)")
    ex.add_argument("--suite", default=None, help="only the runs of this suite")
    store_arg(ex)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from regbench.config import ConfigError
    from regbench.data.errors import DatasetMissingError
    from regbench.plugins import PluginError
    from regbench.executors import ExecutorError
    from regbench.registry import UnknownNameError
    from regbench.store import StoreError

    try:
        return COMMANDS[args.command](args)
    except (ConfigError, UnknownNameError, StoreError, DatasetMissingError, PluginError, ExecutorError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished runs are in the store; run the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `regbench list … | head`: the reader left, nothing is wrong
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def cmd_run(args) -> int:
    from regbench.plan import load_suite
    from regbench.store import Store

    plan = load_suite(args.suite)
    plan = select(plan, args.regularizers, args.seeds)
    if args.device != "cpu" and args.executor == "local":  # remote workers have their own devices
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
    progress = not args.no_progress and sys.stderr.isatty()
    if args.sweep is not None:
        return _run_sweep(args, plan, store, progress)
    print(f"{plan.suite.name}: {len(plan.runs)} runs planned, {todo} runs to do, {len(plan.runs) - todo} reused")
    counts = run_plan(
        plan,
        store,
        workers=args.workers,
        device=args.device,
        executor=args.executor,
        progress=not args.no_progress and sys.stderr.isatty(),
        **scaling_kwargs(args),
    )
    if counts["trained"]:
        print(
            f"trained {counts['trained']} runs in {counts.get('seconds', 0):.1f} s: {counts['ok']} ok, "
            f"{counts['failed']} failed, {counts['diverged']} diverged"
        )
    return 0


def _run_sweep(args, plan, store, progress: bool) -> int:
    from regbench.sweep import DEFAULT_SPACES
    from regbench.sweep_run import run_sweep

    if args.sweep < 1:
        print(f"error: --sweep needs N >= 1, got {args.sweep}", file=sys.stderr)
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
        workers=args.workers,
        device=args.device,
        executor=args.executor,
        progress=progress,
    )
    print(text, end="")
    print(
        f"({counts['planned']} runs: {counts['reused']} reused, {counts['trained']} trained; "
        f"selection written to {out / 'selection.md'})"
    )
    return 0


def cmd_compare(args) -> int:
    from regbench.compare import compare, parse_params

    params = parse_params(args.param, args.params_yaml)
    out = Path(args.out) if args.out else None
    code, text = compare(
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
    print(text, end="")
    if not args.no_leaderboard:
        import importlib.util

        if importlib.util.find_spec("regbench.report") is not None:
            from regbench.leaderboard import write_leaderboard

            write_leaderboard(args.suite, args.store, out or Path("leaderboard") / Path(args.suite).stem, show=False)
        else:
            print(f"(run `regbench leaderboard {args.suite}` to rebuild the leaderboard with the new row)")
    return code


def add_scaling_args(r: argparse.ArgumentParser) -> None:
    """Execution flags of `run` (GPU, checkpoints, Ray, Slurm); none of them enters a run key."""
    r.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="N",
        help="save an in-run checkpoint every N epochs (default: the suite's checkpoint_every, 0 = off)",
    )
    r.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic kernels, no cuDNN autotuning (bit-exact resumes on CPU)",
    )
    r.add_argument("--compile", action="store_true", help="torch.compile the model (off by default)")
    r.add_argument(
        "--address", default=None, help="ray: cluster address (auto | HOST:PORT; default: start a local Ray)"
    )
    r.add_argument(
        "--gpus-per-run", type=float, default=None, help="ray/slurm: GPUs per run (ray: fractional, e.g. 0.25)"
    )
    r.add_argument("--partition", default=None, help="slurm: partition")
    r.add_argument("--time", type=int, default=None, metavar="MINUTES", help="slurm: time limit per job (minutes)")


def scaling_kwargs(args) -> dict:
    if args.checkpoint_every is not None and args.checkpoint_every < 0:
        from regbench.config import ConfigError

        raise ConfigError(f"--checkpoint-every must be >= 0, got {args.checkpoint_every}")
    return {
        "checkpoint_every": args.checkpoint_every,
        "deterministic": args.deterministic,
        "compile": args.compile,
        "address": args.address,
        "gpus_per_run": args.gpus_per_run,
        "partition": args.partition,
        "time": args.time,
    }


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
        runs = tuple(
            r for r in runs if r.regularizer.display in regularizers or r.regularizer.stack[0].name in regularizers
        )
    if seeds:
        missing = sorted(set(seeds) - set(plan.suite.seeds))
        runs = tuple(r for r in runs if r.seed in seeds)
        if missing:
            raise ConfigError(f"seeds {missing} are not in suite '{plan.suite.name}' (seeds: {list(plan.suite.seeds)})")
    return replace(plan, runs=runs)


def cmd_leaderboard(args) -> int:
    from regbench.leaderboard import write_leaderboard

    out = Path(args.out) if args.out else Path("leaderboard") / Path(args.suite).stem
    write_leaderboard(args.suite, args.store, out, plots=not args.no_plots, reps=args.reps)
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
        if args.what == "regularizers":  # kind and the tasks it applies to (classification, seq2seq)
            inst = obj if isinstance(obj.tasks, tuple) and isinstance(obj.kind, str) else obj()  # recipes: properties
            print(f"{name:<24} {inst.kind:<12} {'+'.join(inst.tasks):<23} {describe(obj)}")
            continue
        print(f"{name:<24} {describe(obj)}")
    return 0


def cmd_validate(args) -> int:
    from regbench.plan import load_suite

    if Path(args.suite).name == "regularizers.yaml" or args.suite == "regularizers":
        from regbench.sweep import DEFAULT_SPACES, load_spaces

        path = DEFAULT_SPACES if args.suite == "regularizers" else Path(args.suite)
        spaces = load_spaces(path).search_spaces
        print(
            f"{path}: ok — search spaces of {len(spaces)} regularizers, "
            f"{sum(len(p) for p in spaces.values())} parameters"
        )
        return 0

    plan = load_suite(args.suite)
    s = plan.suite
    print(
        f"{plan.source}: ok — {len(s.benchmarks)} benchmarks × {len(s.regularizers)} regularizer configs "
        f"× {len(s.seeds)} seeds = {len(plan.runs)} runs"
    )
    return 0


def cmd_data(args) -> int:
    if args.data_command == "prepare":
        from regbench.prepare import prepare

        prepare(args.suite)
        return 0
    from regbench.data.download import download

    try:
        download(args.name, args.root)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_export(args) -> int:
    from regbench.export import export

    export(args.store, args.format, args.out, args.suite)
    return 0


COMMANDS = {
    "run": cmd_run,
    "leaderboard": cmd_leaderboard,
    "list": cmd_list,
    "validate": cmd_validate,
    "export": cmd_export,
    "data": cmd_data,
    "compare": cmd_compare,
    "diagnose": cmd_diagnose,
}

if __name__ == "__main__":
    sys.exit(main())
