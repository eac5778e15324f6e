"""The Ray executor against the local pool, end to end, on tiny and on realistic runs.

Both executors train the same plan into a fresh store with 2 workers; Ray starts (and shuts
down) its private instance inside the timed region, as ``regbench run --executor ray`` does.
The ratio ray / local is Ray's overhead: start-up and per-run round trips weigh on 20 tiny
runs (digits, MLP width 32, 1 epoch), and should vanish into 8 realistic runs (the ``ood``
suite's digits-labelshift MLP, width 128, 20 epochs). The two executors alternate rounds, so
the machine's load hits both alike; the load average is printed beside.

    PYTHONPATH=. python benchmarks/bench_ray_runs.py [ROUNDS]
    PYTHONPATH=. python -m pytest benchmarks/bench_ray_runs.py --benchmark-only -q
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pytest

from regbench.config import parse_suite
from regbench.harness.plan import plan_suite
from regbench.harness.run_plan import run_plan
from regbench.store import Store

CASES = {
    "20 tiny runs": {"seeds": 20, "epochs": 1, "width": 32, "batch_size": 128},
    "8 realistic runs": {"seeds": 8, "epochs": 20, "width": 128, "batch_size": 128},
}


def plan_for(case: str):
    c = CASES[case]
    suite = {
        "name": f"ray-{c['seeds']}",
        "seeds": list(range(c["seeds"])),
        "train": {"epochs": c["epochs"], "batch_size": c["batch_size"], "lr": 6e-3},
        "benchmarks": [
            {
                "name": "d",
                "dataset": "digits",
                "model": "mlp",
                "model_args": {"width": c["width"]},
                "shift": {"kind": "none"},
            }
        ],
        "regularizers": ["erm"],
    }
    return plan_suite(parse_suite(suite))


def sweep(plan, executor: str, folder: Path) -> float:
    """Wall seconds of one run_plan of ``plan`` on ``executor`` with 2 workers, into a fresh store."""
    store = Store(folder / f"{executor}-{time.monotonic_ns()}.sqlite")
    t = time.perf_counter()
    try:
        counts = run_plan(plan, store, workers=2, executor=executor, progress=False)
    finally:
        store.close()
    assert counts["ok"] == len(plan.runs), counts
    return time.perf_counter() - t


def table(rounds: int = 2) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            plan = plan_for(case)
            sweep(plan, "local", Path(tmp))  # warm-up: the data cache is filled
            times: dict[str, list[float]] = {"local": [], "ray": []}
            load = [os.getloadavg()[0]]
            for r in range(rounds):
                for ex in ("local", "ray") if r % 2 == 0 else ("ray", "local"):
                    times[ex].append(sweep(plan, ex, Path(tmp)))
                load.append(os.getloadavg()[0])
            local, ray = statistics.median(times["local"]), statistics.median(times["ray"])
            rows.append({"case": case, "local": local, "ray": ray, "ratio": ray / local})
            print(
                f"{case}: local {local:.2f} s | ray {ray:.2f} s | ray/local {ray / local:.2f}× "
                f"| load {min(load):.1f}-{max(load):.1f}",
                flush=True,
            )
    return rows


@pytest.mark.parametrize("case", list(CASES))
# the Ray case is marked ray: benchmarks/conftest.py runs it last (Ray's teardown keeps using CPU)
@pytest.mark.parametrize("executor", ["local", pytest.param("ray", marks=pytest.mark.ray)])
def test_executor_runs(benchmark, tmp_path, executor, case):
    if executor == "ray":
        pytest.importorskip("ray", reason="ray is an optional extra: pip install -e '.[ray]'")
    plan = plan_for(case)
    benchmark.group = f"executor-{case.replace(' ', '-')}"
    benchmark.extra_info.update(runs=len(plan.runs), workers=2)
    benchmark.pedantic(sweep, args=(plan, executor, tmp_path), rounds=1, warmup_rounds=0)


if __name__ == "__main__":
    table(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
