"""Every benchmark module imports against the current API, so a change that breaks one fails CI.

``make perf`` times the benchmarks; nothing here times anything. Importing each module catches
renamed or moved imports; calling the per-step functions of ``benchmarks/bench_hook_checks.py``
once catches a changed hook contract (a ``Stack.loss`` that returns None broke ``make perf``
unnoticed, because ``make test`` never touched ``benchmarks/``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
MODULES = sorted(BENCHMARKS.glob("bench_*.py"))


def load(path: Path):
    # benchmark modules import their shared helper (benchmarks/paired.py) as ``paired``, as they
    # do under pytest (rootdir-less import puts benchmarks/ on sys.path) or run as scripts
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"_bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_there_are_benchmarks():
    assert len(MODULES) >= 8, f"benchmarks/ lost modules: {[p.name for p in MODULES]}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_benchmark_module_imports(path):
    module = load(path)
    assert any(name.startswith("test_") for name in vars(module)), f"{path.name} defines no benchmark"


@pytest.mark.parametrize("how", ["checked_step", "unchecked_step", "bare_step", "checked_hooks", "unchecked_hooks"])
def test_hook_check_steps_run_once(how):
    """Each step the hook-check benchmark times runs and returns a finite loss or a trained model."""
    bench = load(BENCHMARKS / "bench_hook_checks.py")
    model, opt, x, y, g = bench.setup()
    members = [bench.LabelSmoothing(0.1), bench.LogitPenalty(), bench.L2(1e-4)]
    arg = bench.Stack(members) if how.startswith("checked") else members
    before = [p.detach().clone() for p in model.parameters()]
    out = getattr(bench, how)(model, opt, x, y, g, arg)
    if how.endswith("hooks"):
        assert isinstance(out, torch.Tensor) and out.dim() == 0 and torch.isfinite(out)
    else:  # a training step changed the weights
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_paired_interleave_alternates_and_reports_ratios():
    """The helper behind the interleaved ratios: rounds alternate, warm-up is dropped, ratios are harness / bare."""
    paired = load(BENCHMARKS / "paired.py")
    calls = []
    result = paired.interleave(
        lambda tag: calls.append(("harness", tag)),
        lambda tag: calls.append(("bare", tag)),
        rounds=3,
        warmup_rounds=1,
        setup=lambda: ("x",),
    )
    assert [c[0] for c in calls] == ["bare", "harness", "harness", "bare", "bare", "harness", "harness", "bare"]
    assert all(tag == "x" for _, tag in calls)
    assert result["rounds"] == 3 and result["warmup_rounds"] == 1
    for key in ("ratio", "min_ratio", "harness_median_s", "bare_median_s", "load", "threads"):
        assert key in result
    assert result["ratio"] > 0 and "×" in paired.line(result)
