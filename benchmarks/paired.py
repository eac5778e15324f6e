"""Harness-vs-bare pairs timed in alternating rounds in one process: the ratios ``make perf`` reports.

pytest-benchmark times each test's rounds in one block (all harness rounds, then all bare
rounds), so a burst of load from another job, or a Ray cluster still winding down, lands on
one side only and skews the ratio: one ``make perf`` read the ResNet-18 epoch pair as 1.39×,
which reran alone, interleaved, as 1.01×. Here the two sides alternate round by round (and
which goes first alternates too), so load hits both alike; medians, minimums and process CPU
seconds are recorded for each side. The benchmark modules call :func:`interleave` from one
pytest test per pair and :func:`record` puts the result in ``benchmark.extra_info``, where
``benchmarks/conftest.py`` picks up ``ratio`` for the table printed at the end of ``make perf``.

Not a benchmark module itself (no ``bench_`` prefix): imported by them as ``paired``, with
``benchmarks/`` on ``sys.path`` (pytest's rootdir-less import puts it there, as does running a
module as a script).
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

SIDES = ("harness", "bare")


def interleave(
    harness: Callable[..., Any],
    bare: Callable[..., Any],
    rounds: int,
    warmup_rounds: int = 1,
    setup: Callable[[], tuple] | None = None,
    cpu_clock: Callable[[], float] = time.process_time,
) -> dict[str, Any]:
    """Time ``harness`` and ``bare`` in alternating rounds; the ratios are harness / bare.

    Each round runs both sides once, bare first in even rounds and harness first in odd ones.
    ``setup()`` (untimed, before every call) returns the positional arguments of that call,
    e.g. a freshly initialized model. The first ``warmup_rounds`` rounds are not recorded.
    ``ratio`` is the ratio of wall-clock medians; ``min_ratio`` of minimums; ``cpu_ratio`` (and
    ``cpu_min_ratio``) of this process's CPU-second medians (minimums) (the one load from other jobs distorts least on CPU;
    on CUDA it only counts the host side). ``cpu_clock``: the CPU seconds to read instead of
    this process's, e.g. :func:`children_cpu` when each side runs a whole process.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    fns = {"harness": harness, "bare": bare}
    wall: dict[str, list[float]] = {s: [] for s in SIDES}
    cpu: dict[str, list[float]] = {s: [] for s in SIDES}
    load = [os.getloadavg()[0]]
    for r in range(warmup_rounds + rounds):
        for side in ("bare", "harness") if r % 2 == 0 else ("harness", "bare"):
            args = setup() if setup is not None else ()
            gc.collect()
            w, c = time.perf_counter(), cpu_clock()
            fns[side](*args)
            w, c = time.perf_counter() - w, cpu_clock() - c
            if r >= warmup_rounds:
                wall[side].append(w)
                cpu[side].append(c)
        load.append(os.getloadavg()[0])
    med = {s: statistics.median(wall[s]) for s in SIDES}
    low = {s: min(wall[s]) for s in SIDES}
    cpu_med = {s: statistics.median(cpu[s]) for s in SIDES}
    cpu_low = {s: min(cpu[s]) for s in SIDES}
    return {
        "ratio": med["harness"] / med["bare"],
        "min_ratio": low["harness"] / low["bare"],
        "cpu_ratio": cpu_med["harness"] / cpu_med["bare"] if cpu_med["bare"] > 0 else float("nan"),
        "cpu_min_ratio": cpu_low["harness"] / cpu_low["bare"] if cpu_low["bare"] > 0 else float("nan"),
        "rounds": rounds,
        "warmup_rounds": warmup_rounds,
        "harness_median_s": med["harness"],
        "bare_median_s": med["bare"],
        "harness_min_s": low["harness"],
        "bare_min_s": low["bare"],
        "harness_cpu_median_s": cpu_med["harness"],
        "bare_cpu_median_s": cpu_med["bare"],
        "load": f"{min(load):.1f}-{max(load):.1f}",
        "threads": torch.get_num_threads(),
    }


def children_cpu() -> float:
    """User + system CPU seconds of this process's finished, waited-for child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rounds_for(benchmark, rounds: int, warmup_rounds: int = 1) -> tuple[int, int]:
    """``(rounds, warmup_rounds)``, or one unwarmed round when pytest-benchmark is disabled
    (``--benchmark-disable``: a smoke run that only checks the pair still runs)."""
    return (1, 0) if getattr(benchmark, "disabled", False) else (rounds, warmup_rounds)


def run(
    benchmark, harness, bare, rounds: int, warmup_rounds: int = 1, setup=None, cpu_clock=time.process_time, **info
) -> dict[str, Any]:
    """One pytest test's whole interleaved measurement, timed once by ``benchmark``, recorded in its extra_info."""
    rounds, warmup_rounds = rounds_for(benchmark, rounds, warmup_rounds)
    benchmark.group = "interleaved harness-vs-bare"
    result = benchmark.pedantic(
        interleave,
        args=(harness, bare, rounds, warmup_rounds, setup, cpu_clock),
        rounds=1,
        iterations=1,
        warmup_rounds=0,
    )
    record(benchmark, result, **info)
    return result


def record(benchmark, result: dict[str, Any], **info) -> None:
    """Put ``result`` (rounded) and ``info`` into ``benchmark.extra_info``; conftest prints its ``ratio``."""
    benchmark.extra_info.update(info)
    benchmark.extra_info.update({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()})


def line(result: dict[str, Any]) -> str:
    """One human-readable line: ratio of medians first, then minimums, CPU, rounds, times and load."""
    parts = [f"{result['ratio']:.3f}×"]
    if "min_ratio" in result:
        parts.append(f"min {result['min_ratio']:.3f}×")
    if "cpu_ratio" in result:
        parts.append(f"cpu {result['cpu_ratio']:.3f}×")
    if "rounds" in result:
        parts.append(f"{result['rounds']} rounds")
    if "harness_median_s" in result and "bare_median_s" in result:
        parts.append(f"harness {result['harness_median_s']:.3f} s / bare {result['bare_median_s']:.3f} s")
    if "threads" in result:
        parts.append(f"{result['threads']} threads")
    if "load" in result:
        parts.append(f"load {result['load']}")
    return " | ".join(parts)
