"""The on-disk split cache: keyed by spec fingerprint, corruption detected, safe under concurrency."""

from __future__ import annotations

import subprocess
import sys

import torch
from conftest import tiny_suite

from regbench.cli import main
from regbench.config import parse_suite
from regbench.data import cache
from regbench.harness import run_one as runner
from regbench.harness.plan import plan_suite


def bench_of(**shift):
    suite = tiny_suite()
    if shift:
        suite["benchmarks"][0]["shift"] = shift
    return plan_suite(parse_suite(suite)).runs[0].benchmark


def test_prepare_builds_then_reuses(isolated_cache, write_suite, capsys):
    path = write_suite(tiny_suite())
    assert main(["data", "prepare", str(path)]) == 0
    first = capsys.readouterr().out
    assert "built" in first and "test_id" in first and "ood/gaussian_noise/5" in first
    runner._SPLITS.clear()
    assert main(["data", "prepare", str(path)]) == 0
    second = capsys.readouterr().out
    assert "cached" in second
    # same sizes, balances and content fingerprints both times
    assert [line for line in first.splitlines() if line.startswith("  ")] == [
        line for line in second.splitlines() if line.startswith("  ")
    ]


def test_changed_spec_gets_a_new_fingerprint(isolated_cache):
    a = runner.fingerprint(bench_of(kind="covariate", corruptions=["gaussian_noise"], severities=[2]))
    b = runner.fingerprint(bench_of(kind="covariate", corruptions=["gaussian_noise"], severities=[3]))
    assert a != b
    runner.build_splits(bench_of(kind="covariate", corruptions=["gaussian_noise"], severities=[2]))
    assert (isolated_cache / a / "manifest.json").exists() and not (isolated_cache / b).exists()


def test_corrupted_entry_is_detected_and_rebuilt(isolated_cache):
    bench = bench_of()
    key = runner.fingerprint(bench)
    clean = runner.build_splits(bench)
    data = isolated_cache / key / "splits.pt"
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # flip one byte in the middle of the tensors
    data.write_bytes(bytes(blob))
    runner._SPLITS.clear()
    import pytest

    with pytest.raises(cache.CacheCorrupt):
        cache.load(key, isolated_cache)
    with pytest.warns(UserWarning, match="rebuilding corrupted cache entry"):
        rebuilt = runner.build_splits(bench)
    assert torch.equal(rebuilt.ood["gaussian_noise/5"].x, clean.ood["gaussian_noise/5"].x)
    assert cache.load(key, isolated_cache) is not None  # the rebuilt entry verifies


def test_two_processes_preparing_at_once_leave_one_valid_entry(isolated_cache, write_suite):
    path = write_suite(tiny_suite())
    cmd = [sys.executable, "-m", "regbench.cli", "data", "prepare", str(path)]
    env = {**__import__("os").environ, "REGBENCH_CACHE": str(isolated_cache)}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    entries = [p for p in isolated_cache.iterdir()]
    assert len(entries) == 1, entries  # no temporary folders left behind
    assert cache.load(entries[0].name, isolated_cache) is not None
