"""What every benchmark in ``make perf`` (one pytest process) shares: thread count, order, ratio table.

``make perf`` runs every benchmark module in one process, so anything one module leaves
behind is the next module's starting point. Three things made side-by-side ratios
untrustworthy (issue #17: the ResNet-18 epoch pair read 1.39× in ``make perf`` and 1.01× rerun
alone, interleaved):

1. Torch's intra-op thread count is process-global. Modules set it to 1 and did not always
   set it back, so a later benchmark ran with whatever count an earlier module left. Here it
   is set before every test (to the count the process started with, or to the test's
   ``@pytest.mark.threads(n)``) and restored after it. The inter-op count is fixed once per
   process by torch and left alone.
2. Ray's processes go on using CPU for seconds after ``ray.shutdown()``. Tests that start Ray
   are marked ``@pytest.mark.ray`` and moved to the end of the session, so that tail never
   overlaps another benchmark's timing (alphabetically they ran just before the ResNet pair).
3. pytest-benchmark times one test's rounds in a block, so a load burst hits one side of a
   pair only. The pairs whose ratio is reported also have an interleaved test
   (``benchmarks/paired.py``); every test that puts a ``ratio`` in ``benchmark.extra_info``
   gets a line in a short table printed after pytest-benchmark's own (``make perf`` runs
   without ``-s``, so prints inside tests would not show).
"""

from __future__ import annotations

import pytest
import torch

# The process's count before any benchmark changed it: torch's default (the cores, or
# OMP_NUM_THREADS), or what the command line set before pytest imported this conftest.
DEFAULT_THREADS = torch.get_num_threads()
RATIOS = pytest.StashKey[list]()


@pytest.fixture(autouse=True)
def torch_threads(request):
    """Every test starts with DEFAULT_THREADS intra-op threads (or its ``threads`` marker's count)
    and leaves with DEFAULT_THREADS, whatever it or a module-scoped fixture set in between."""
    marker = request.node.get_closest_marker("threads")
    torch.set_num_threads(int(marker.args[0]) if marker else DEFAULT_THREADS)
    yield
    torch.set_num_threads(DEFAULT_THREADS)


@pytest.hookimpl(trylast=True)  # after any plugin that reorders (pytest-randomly shuffles, if installed)
def pytest_collection_modifyitems(config, items):
    """Tests marked ``ray`` run last (in their collected order): Ray's teardown keeps using CPU
    for seconds after ``ray.shutdown()``, and before the move it overlapped the timing of the
    benchmarks that followed alphabetically (``bench_scaling.py``'s ResNet pair)."""
    ray = [item for item in items if item.get_closest_marker("ray") is not None]
    if ray:
        items[:] = [item for item in items if item.get_closest_marker("ray") is None] + ray


def pytest_runtest_makereport(item, call):
    """Remember the ``extra_info`` of every test that recorded a ``ratio`` (read after the call phase)."""
    if call.when != "call":
        return None
    info = getattr(getattr(item, "funcargs", {}).get("benchmark"), "extra_info", None)
    if info and "ratio" in info:
        item.config.stash.setdefault(RATIOS, []).append((item.nodeid, dict(info)))
    return None


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The ratios, one line per test, after pytest-benchmark's tables: the numbers to quote."""
    rows = config.stash.get(RATIOS, [])
    if not rows:
        return
    from paired import line

    terminalreporter.write_sep("-", "harness / bare, rounds interleaved in one process (ratio of medians first)")
    width = max(len(nodeid) for nodeid, _ in rows)
    for nodeid, info in rows:
        terminalreporter.write_line(f"{nodeid:<{width}}  {line(info)}")
