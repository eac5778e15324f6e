"""Where the Ray executor's overhead goes: start-up, a fresh worker's imports, per-task round trips.

`bench_scaling.py` times 20 tiny runs on Ray against the local pool; this splits Ray's side
into: importing ray, ``ray.init`` of a private 2-CPU instance, the first task, importing torch
and regbench in a fresh worker (and again in the same worker: Ray reuses a worker process
across tasks, so the import is paid once per worker, not per task), 20 no-op round trips, 20
round trips carrying a 200 kB payload (about one record with its predictions), the executor's
long-lived actor (created, then its first call: torch and regbench imported at creation; then
20 calls), and shutdown. ``runtime_env`` in the name: ray.init with the ``runtime_env`` the
executor used to pass to a private instance (its agent sets up each worker's environment).

    PYTHONPATH=. python benchmarks/bench_ray_overhead.py
    PYTHONPATH=. python -m pytest benchmarks/bench_ray_overhead.py --benchmark-only -q
"""

from __future__ import annotations

import os
import time

import pytest


def breakdown(runtime_env: bool = False) -> dict[str, float]:
    """Seconds per stage of one private Ray instance's life (see the module docstring)."""
    marks = [time.perf_counter()]
    import ray

    from regbench.harness.executors.ray import RAY_ENV

    for k, v in RAY_ENV.items():
        os.environ.setdefault(k, v)
    marks.append(time.perf_counter())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
        **({"runtime_env": {"env_vars": {"PYTHONPATH": root}}} if runtime_env else {}),
    )
    marks.append(time.perf_counter())

    @ray.remote(num_cpus=1)
    def echo(x):
        return x

    @ray.remote(num_cpus=1)
    def imports():
        t = time.perf_counter()
        import torch  # noqa: F401

        import regbench.harness.run_one  # noqa: F401

        return time.perf_counter() - t

    from regbench.harness.executors.ray import RunWorker

    actor = ray.remote(RunWorker).options(num_cpus=1)
    try:
        ray.get(echo.remote(0))
        marks.append(time.perf_counter())
        fresh = max(ray.get([imports.remote() for _ in range(2)]))
        reused = max(ray.get([imports.remote() for _ in range(2)]))
        t = time.perf_counter()
        ray.get([echo.remote(i) for i in range(20)])
        noop = time.perf_counter() - t
        blob = b"x" * 200_000
        t = time.perf_counter()
        ray.get([echo.remote(blob) for _ in range(20)])
        payload = time.perf_counter() - t
        t = time.perf_counter()
        w = actor.remote()
        ray.get(w.__ray_ready__.remote())
        created = time.perf_counter() - t
        t = time.perf_counter()
        ray.get([w.__ray_ready__.remote() for _ in range(20)])
        calls = time.perf_counter() - t
    finally:
        t = time.perf_counter()
        ray.shutdown()
        shutdown = time.perf_counter() - t
    return {
        "import ray": marks[1] - marks[0],
        "ray.init": marks[2] - marks[1],
        "first task": marks[3] - marks[2],
        "torch + regbench import, fresh worker": fresh,
        "same, reused worker": reused,
        "20 no-op tasks": noop,
        "20 tasks with 200 kB": payload,
        "actor created (imports torch + regbench)": created,
        "20 actor calls": calls,
        "shutdown": shutdown,
    }


@pytest.mark.ray  # run last by benchmarks/conftest.py: Ray's teardown keeps using CPU after shutdown
def test_ray_overhead_breakdown(benchmark):
    pytest.importorskip("ray", reason="ray is an optional extra: pip install -e '.[ray]'")
    result = benchmark.pedantic(breakdown, rounds=1, iterations=1)
    benchmark.extra_info.update({k: round(v, 3) for k, v in result.items()})
    assert result["same, reused worker"] < result["torch + regbench import, fresh worker"]


if __name__ == "__main__":
    for env in (True, False):
        print(
            ("with runtime_env: " if env else "inherited env:   ")
            + " | ".join(f"{k} {v:.3f} s" for k, v in breakdown(env).items())
        )
