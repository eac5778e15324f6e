"""``regbench validate SUITE``: check a suite (or the search-space file) without training anything."""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    v = sub.add_parser("validate", help="check a suite file; exit 0 if valid, 1 if not")
    v.add_argument("suite")


def run(args) -> int:
    if Path(args.suite).name == "regularizers.yaml" or args.suite == "regularizers":
        # the built-in regularizers' signatures come from regbench.catalog.declared: no torch
        from regbench.sweep import DEFAULT_SPACES, load_spaces

        path = DEFAULT_SPACES if args.suite == "regularizers" else Path(args.suite)
        spaces = load_spaces(path).search_spaces
        print(
            f"{path}: ok — search spaces of {len(spaces)} regularizers, "
            f"{sum(len(p) for p in spaces.values())} parameters"
        )
        return 0
    # the plan reads built-in entries from catalog.declared (no torch); a plugin the suite names
    # is imported, with whatever it imports
    from regbench.harness.plan import load_suite

    plan = load_suite(args.suite)
    s = plan.suite
    print(
        f"{plan.source}: ok — {len(s.benchmarks)} benchmarks × {len(s.regularizers)} regularizer configs "
        f"× {len(s.seeds)} seeds = {len(plan.runs)} runs"
    )
    warn_missing_data(s.benchmarks)
    return 0


def warn_missing_data(benchmarks) -> None:
    """A warning (exit status unchanged) naming every real dataset of the suite not on disk."""
    from regbench.data.presence import data_hint, missing_message, suite_needs

    message = missing_message(suite_needs(benchmarks))
    if message:
        print(f"warning: data missing, `run` would stop: {message} (data root: {data_hint()})", file=sys.stderr)
