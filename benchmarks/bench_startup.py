"""Start-up: whole ``regbench`` processes against a process that only imports torch.

Run: ``.venv/bin/python -m pytest benchmarks/bench_startup.py --benchmark-only -q -p no:randomly``.
Each test times a fresh interpreter running one command, from its start to its exit (the
subprocess's wall clock, and its user + system CPU from ``getrusage(RUSAGE_CHILDREN)``, as
``/usr/bin/time`` reads them), in rounds alternating with ``python -c "import torch"``
(``benchmarks/paired.py``). The ratio (command / import torch) goes into ``make perf``'s table;
issue #27 asks for at most 0.3 for the commands that need no torch (``--help``, ``list``,
``validate regularizers``, ``validate SUITE``: a suite of built-in entries is checked against
``regbench.catalog.declared``, without importing them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import paired
import pytest

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "help": ["--help"],
    "list_regularizers": ["list", "regularizers"],
    "validate_regularizers": ["validate", "regularizers"],
    "validate_ood": ["validate", "suites/ood.yaml"],
}


def run_process(args: list[str], cache: Path) -> None:
    """One whole interpreter, ``python ARGS`` from the repository root; fails on a non-zero exit."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "REGBENCH_CACHE": str(cache),
        "OMP_NUM_THREADS": "1",  # as in every other benchmark: one thread per process on a shared machine
    }
    subprocess.run([sys.executable, *args], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_startup_vs_import_torch(benchmark, command, tmp_path):
    """``python -m regbench.cli …`` / ``python -c "import torch"``: the "harness" side of ``paired`` is regbench."""
    argv = ["-m", "regbench.cli", *COMMANDS[command]]
    result = paired.run(
        benchmark,
        lambda: run_process(argv, tmp_path),
        lambda: run_process(["-c", "import torch"], tmp_path),
        rounds=5,
        cpu_clock=paired.children_cpu,
        pair=f"regbench {' '.join(COMMANDS[command])} vs python -c 'import torch' (whole processes)",
    )
    assert result["ratio"] > 0
