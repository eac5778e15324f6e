"""Seed-batched training (`--batch-seeds`) against the same seeds trained as separate runs.

End to end through ``run_plan`` into a fresh SQLite store (build, train, evaluate, record),
in this process (``workers=1``), for an MLP (digits, 10 epochs) and the default CNN (digits,
3 epochs) at S = 3, 5 and 10 seeds of erm. Batched and separate rounds of one configuration
run interleaved in one process, so machine load hits both alike; the ratio of their times
is the speed-up (goal: ≥ 1.5× for the MLP on the 2-core CPU). ``ood:<benchmark>`` times
every regularizer of one benchmark of the ``ood`` suite (3 seeds each) the same way: the
groups that cannot be batched (BatchNorm) train separately on both sides.

    PYTHONPATH=. python -m pytest benchmarks/bench_seed_batch.py --benchmark-only -q
    PYTHONPATH=. python benchmarks/bench_seed_batch.py [ROUNDS] [mlp] [cnn] [ood:digits-labelshift]
        # a table: wall and CPU seconds (median, min) per mode, the machine's load average beside
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

import paired

from regbench.config import parse_suite, read_suite_file, suite_path
from regbench.harness.plan import plan_suite
from regbench.harness.run_one import build_splits
from regbench.harness.run_plan import run_plan
from regbench.store import Store

EPOCHS = {"mlp": 10, "cnn": 3}
SEEDS = (3, 5, 10)


def plan_for(arch: str, seeds: int):
    suite = {
        "name": f"seedbatch-{arch}-{seeds}",
        "seeds": list(range(seeds)),
        "train": {"epochs": EPOCHS[arch], "batch_size": 128, "lr": 1e-3},
        "benchmarks": [{"name": "digits", "dataset": "digits", "model": arch, "shift": {"kind": "none"}}],
        "regularizers": ["erm"],
    }
    return plan_suite(parse_suite(suite))


def ood_plan(benchmark: str):
    """The ``ood`` suite's runs on one of its benchmarks (every regularizer, 3 seeds)."""
    plan = plan_suite(read_suite_file(suite_path("ood")))
    runs = tuple(r for r in plan.runs if r.benchmark.spec.name == benchmark)
    if not runs:
        raise SystemExit(f"the ood suite has no benchmark '{benchmark}'")
    return type(plan)(plan.suite, plan.source, runs)


def run_once(plan, batched: bool | str, folder: Path) -> dict:
    """Train every run of ``plan`` into a new store under ``folder``; the counts of run_plan.

    ``batched``: False (separate runs), True (``--batch-seeds``: batched where that pays on
    this device) or ``"everywhere"`` (every batchable group, e.g. a CNN on CPU)."""
    store = Store(folder / f"{'batched' if batched else 'separate'}-{time.monotonic_ns()}.sqlite")
    try:
        counts = run_plan(plan, store, workers=1, device="cpu", progress=False, batch_seeds=batched)
    finally:
        store.close()
    assert counts["ok"] == len(plan.runs), counts
    return counts


@pytest.mark.parametrize("seeds", SEEDS)
@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("mode", ["separate", "batched"])
def test_seed_batch(benchmark, tmp_path, arch, seeds, mode):
    plan = plan_for(arch, seeds)
    batched = "everywhere" if mode == "batched" else False  # the stacked model itself, CNN on CPU too
    run_once(plan, batched, tmp_path)  # warm-up: splits cached, kernels loaded
    benchmark.group = f"seeds-{arch}-S{seeds}"
    benchmark.extra_info.update(threads=torch.get_num_threads(), epochs=EPOCHS[arch], seeds=seeds)
    benchmark.pedantic(run_once, args=(plan, batched, tmp_path), rounds=3 if arch == "mlp" else 2)


@pytest.mark.parametrize("arch, seeds", [("mlp", 3), ("mlp", 5), ("mlp", 10), ("cnn", 3)])
def test_seed_batch_interleaved(benchmark, tmp_path, arch, seeds):
    """The speed-up to quote: batched and separate rounds alternating (``benchmarks/paired.py``);
    its ratio is batched / separate, so below 1 is faster (the tests above time in blocks)."""
    plan = plan_for(arch, seeds)
    paired.run(
        benchmark,
        lambda: run_once(plan, "everywhere", tmp_path),
        lambda: run_once(plan, False, tmp_path),
        rounds=5,
        pair=f"seed batch {arch} S={seeds}: batched / separate",
        arch=arch,
        seeds=seeds,
    )


def timed_pair(plan, rounds: int, folder: Path, warm_up: bool = True, batched: bool | str = "everywhere") -> dict:
    """Batched and separate rounds of ``plan``, interleaved: (median wall, min wall, min CPU) per mode.

    Without ``warm_up`` only the benchmarks' splits are built first (the rounds are otherwise cold).
    ``batched`` is what the batched side passes as ``batch_seeds`` (see :func:`run_once`).
    """
    times = {"separate": [], "batched": []}
    for mode in times if warm_up else ():  # warm-up: splits cached, kernels loaded
        run_once(plan, batched if mode == "batched" else False, folder)
    for bench in {r.benchmark.spec.name: r.benchmark for r in plan.runs}.values():
        build_splits(bench)
    load = [os.getloadavg()[0]]
    for r in range(rounds):
        # alternate which mode goes first, so a load spike does not always hit the same side
        for mode in ("separate", "batched") if r % 2 == 0 else ("batched", "separate"):
            w, c = time.perf_counter(), time.process_time()
            run_once(plan, batched if mode == "batched" else False, folder)
            times[mode].append((time.perf_counter() - w, time.process_time() - c))
        load.append(os.getloadavg()[0])
    row = {
        m: (statistics.median(w for w, _ in t), min(w for w, _ in t), min(c for _, c in t)) for m, t in times.items()
    }
    row["load"] = (min(load), max(load))
    return row


def table(rounds: int = 3, configs: tuple[str, ...] = tuple(EPOCHS)) -> list[dict]:
    """Interleaved batched/separate rounds per (arch, S) or ood benchmark: median and min, wall and CPU seconds.

    One intra-op thread for both modes: on a machine shared with other jobs, two spinning
    OpenMP threads per process made a 10-epoch MLP run ~30× slower and the timings meaningless.
    """
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            cases = (
                [(f"ood {config[4:]}", ood_plan(config[4:]))]
                if config.startswith("ood:")
                else [(f"{config} S={seeds:2d}", plan_for(config, seeds)) for seeds in SEEDS]
            )
            ood = config.startswith("ood:")  # a whole benchmark of the suite: one cold round each
            for label, plan in cases:
                row = {
                    "case": label,
                    "runs": len(plan.runs),
                    # ood: what --batch-seeds does (batched where it pays); an arch: the stacked model itself
                    **timed_pair(plan, 1 if ood else rounds, Path(tmp), not ood, True if ood else "everywhere"),
                }
                rows.append(row)
                s, b = row["separate"], row["batched"]
                print(
                    f"{label} ({row['runs']} runs): separate {s[0]:.2f} s (min {s[1]:.2f}, cpu {s[2]:.2f}) | batched "
                    f"{b[0]:.2f} s (min {b[1]:.2f}, cpu {b[2]:.2f}) | speed-up wall median {s[0] / b[0]:.2f}× "
                    f"min {s[1] / b[1]:.2f}× cpu {s[2] / b[2]:.2f}× | load {row['load'][0]:.1f}-{row['load'][1]:.1f}",
                    flush=True,
                )
    return rows


if __name__ == "__main__":
    table(int(sys.argv[1]) if len(sys.argv) > 1 else 3, tuple(sys.argv[2:]) or tuple(EPOCHS))
