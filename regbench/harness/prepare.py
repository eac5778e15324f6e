"""``regbench data prepare SUITE``: materialize every split of a suite into the cache."""

from __future__ import annotations

import time

from regbench.data import cache
from regbench.data.presence import check_suite_data
from regbench.harness.plan import load_suite
from regbench.harness.run_one import build_splits, fingerprint


def class_balance(y) -> str:
    """``"0:45 1:46 …"`` for class labels (N,); for sequence targets, just the count."""
    if y.dim() != 1:
        return f"{len(y)} sequences"
    import torch

    counts = torch.bincount(y)
    return " ".join(f"{c}:{int(n)}" for c, n in enumerate(counts.tolist()))


def prepare(suite: str, echo=print) -> list[dict]:
    """Build (or reuse) the cached splits of every benchmark of ``suite``; print one line per split.

    Returns one dict per split: benchmark, split, n, balance, fingerprint, cached, seconds.
    """
    plan = load_suite(suite)
    check_suite_data(plan.suite.benchmarks)  # every missing dataset at once, before any is loaded
    seen: dict[str, object] = {}
    for run in plan.runs:
        seen.setdefault(run.benchmark.spec.name, run.benchmark)
    rows = []
    for name, bench in seen.items():
        key = fingerprint(bench)
        was_cached = (cache.cache_dir() / key / "manifest.json").exists()
        t0 = time.perf_counter()
        splits = build_splits(bench)
        seconds = time.perf_counter() - t0
        echo(f"{name}  (spec fingerprint {key}, {'cached' if was_cached else 'built'} in {seconds:.2f} s)")
        for split, ex in splits.all_named().items():
            row = {
                "benchmark": name,
                "split": split,
                "n": len(ex),
                "balance": class_balance(ex.y),
                "fingerprint": cache.split_fingerprint(ex),
                "cached": was_cached,
                "seconds": seconds,
            }
            rows.append(row)
            echo(f"  {split:<32} n={row['n']:<6} {row['fingerprint']}  {row['balance']}")
    return rows
