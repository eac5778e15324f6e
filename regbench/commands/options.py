"""Flags and argument types that several commands share."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from regbench.config import ConfigError, suite_folder
from regbench.registry import UnknownNameError
from regbench.store import DEFAULT_STORE


def ints(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]`` (an argparse type)."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None
    if not values:  # "," or "": an empty selection, which must not silently mean "all"
        raise argparse.ArgumentTypeError(f"expected at least one integer, got '{text}'")
    return values


def positive_int(text: str) -> int:
    """``"4"`` → 4; zero, negatives and non-integers are an argparse error (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def names(text: str) -> list[str]:
    """``"erm, l2"`` → ``["erm", "l2"]`` (an argparse type)."""
    return [x.strip() for x in text.split(",") if x.strip()]


def add_store(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--store", default=DEFAULT_STORE, help=f"results store (default {DEFAULT_STORE})")


def add_device(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes (default: one per core; on CUDA one per 16 GiB of GPU memory, 1 to 4 per GPU)",
    )
    sp.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda[:N] (default auto)")


def add_scaling(r: argparse.ArgumentParser) -> None:
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
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="intra-op threads per run, for every executor alike (default 1; --deterministic pins it to 1)",
    )
    r.add_argument(
        "--batch-seeds",
        action="store_true",
        default=None,
        help="train the seeds of each benchmark × regularizer together as one stacked model "
        "(default: the suite's batch_seeds); trains a group's seeds separately where it cannot, or where "
        "stacking gains nothing on the device (on CPU: convolutional and full-batch runs), saying why once",
    )
    r.add_argument(
        "--run-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="kill a run that takes longer and record it failed: timeout (default: the suite's run_timeout, none)",
    )
    r.add_argument(
        "--address", default=None, help="ray: cluster address (auto | HOST:PORT; default: start a local Ray)"
    )
    r.add_argument(
        "--gpus-per-run", type=float, default=None, help="ray/slurm: GPUs per run (ray: fractional, e.g. 0.25)"
    )
    r.add_argument("--partition", default=None, help="slurm: partition")
    r.add_argument("--time", type=int, default=None, metavar="MINUTES", help="slurm: time limit per job (minutes)")


def scaling_kwargs(args) -> dict:
    """The execution options of :func:`add_scaling` as keyword arguments of ``run_plan``."""
    if args.checkpoint_every is not None and args.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be >= 0, got {args.checkpoint_every}")
    if args.run_timeout is not None and not args.run_timeout > 0:
        raise ConfigError(f"--run-timeout must be > 0 seconds, got {args.run_timeout}")
    return {
        "checkpoint_every": args.checkpoint_every,
        "deterministic": args.deterministic,
        "compile": args.compile,
        "threads": args.threads,
        "batch_seeds": args.batch_seeds,
        "run_timeout": args.run_timeout,
        "address": args.address,
        "gpus_per_run": args.gpus_per_run,
        "partition": args.partition,
        "time": args.time,
    }


def select(plan, regularizers, seeds):
    """Restrict a plan to some regularizer configs (by display or first name) and seeds."""
    runs = plan.runs
    if regularizers:
        known = {r.regularizer.display for r in runs} | {r.regularizer.stack[0].name for r in runs}
        unknown = [n for n in regularizers if n not in known]
        if unknown:
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


def out_dir(args, suite: str):
    """``--out``, else ``leaderboard/<suite stem>`` (the stem one path component: ``suite_folder``),
    checked usable (:func:`usable_folder`) before any work."""
    return usable_folder(Path(args.out) if args.out else Path("leaderboard") / suite_folder(suite))


def usable_folder(path: str | Path) -> Path:
    """``path`` as an output folder; a one-line ConfigError when it is a file, cannot be created
    or cannot be written (read-only, no permission), so reports fail before anything is computed
    rather than with a traceback halfway through. The check leaves nothing behind: folders it had
    to create are removed again (the writers create their folder when they write), so a command
    that then fails (unknown suite, empty store) does not leave an empty ``leaderboard/<name>``."""
    import tempfile

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output folder {path}: is a file, expected a folder; pass another --out")
    missing = [p for p in [path, *path.parents] if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # the one sure test: write a file there (then gone)
            pass
    except OSError as err:
        raise ConfigError(
            f"output folder {path}: cannot write there ({err.strerror or err}); pass another --out"
        ) from None
    finally:
        for created in missing:  # deepest first: only the folders this check made, all empty
            try:
                created.rmdir()
            except OSError:
                break
    return path
