"""Processes and exit codes (issue #27): a plugin's SystemExit outside a hook, worker process
groups under --run-timeout and driver death, --workers > 1 with a single unit, and compare's
device check.

No wall-clock thresholds: each wait has a generous limit and the asserts are on outcomes (a
pid no longer exists, the exit code, what the store holds).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from plugin_registry import clean_registry  # noqa: F401  (autouse fixture)
from test_faults import cli_env, fast_suite, one_line_error, regbench_cmd

from regbench.cli import main

PLUGINS = textwrap.dedent(
    """
    import os, signal, subprocess, time
    from regbench import Regularizer

    class ExitInInit(Regularizer):
        def __init__(self):
            raise SystemExit(0)

    class InterruptInInit(Regularizer):
        def __init__(self):
            raise KeyboardInterrupt

    class SpawnsAndHangs(Regularizer):
        '''Starts `sleep 600`, writes "<its own pid> <the child's pid>" to $TP_PIDS, then hangs.'''

        def penalty(self, model, batch):
            child = subprocess.Popen(["sleep", "600"])
            with open(os.environ["TP_PIDS"] + ".tmp", "w") as out:
                out.write(f"{os.getpid()} {child.pid}")
            os.replace(os.environ["TP_PIDS"] + ".tmp", os.environ["TP_PIDS"])
            time.sleep(1000)

    class KillsItsProcess(Regularizer):
        def penalty(self, model, batch):
            os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.fixture
def plugins(tmp_path) -> Path:
    path = tmp_path / "tp_procs.py"
    path.write_text(PLUGINS)
    return path


def gone(pid: int, limit: float = 120.0) -> bool:
    """Whether process ``pid`` ends within ``limit`` seconds (a zombie counts as ended)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except (OSError, IndexError):
            pass
        time.sleep(0.2)
    return False


def wait_for_file(path: Path, proc: subprocess.Popen, limit: float = 300.0) -> str:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists():
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{path} was not written (exit code {proc.poll()})")


def kill_quietly(*pids: int) -> None:
    """Clean up after a failing assert: these test's own processes, by pid."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# ---- a plugin's SystemExit or KeyboardInterrupt outside a hook: one line, exit 1 -----------


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(
    "body, cls, words",
    [
        ("raise SystemExit(0)\n", "Z", "failed to import: SystemExit: exit code 0"),
        ("raise KeyboardInterrupt\n", "Z", "failed to import: KeyboardInterrupt"),
        (None, "ExitInInit", "raised SystemExit in its constructor (exit code 0)"),
        (None, "InterruptInInit", "raised KeyboardInterrupt in its constructor"),
    ],
)
def test_a_plugin_exiting_at_import_or_construction_is_one_line_and_exit_1(
    command, body, cls, words, plugins, tmp_path, write_suite, store_path, capsys
):
    plugin = plugins
    if body is not None:
        plugin = tmp_path / f"tp_exits_{cls}_{abs(hash(body))}.py"
        plugin.write_text(body)
    path = write_suite(fast_suite(regularizers=[f"{plugin}:{cls}", "erm"]))
    argv = [command, str(path)] + (["--store", str(store_path), "--no-progress"] if command == "run" else [])
    assert main(argv) == 1
    assert words in one_line_error(capsys)
    assert not store_path.exists()  # nothing was planned or trained


# ---- process groups: --run-timeout and driver death end the worker's children --------------


def test_run_timeout_kills_the_hooks_child_and_a_pipe_on_stdout_ends(plugins, tmp_path, write_suite):
    path = write_suite(fast_suite(regularizers=[f"{plugins}:SpawnsAndHangs"]))
    store, pids = tmp_path / "s.sqlite", tmp_path / "pids"
    env = {**cli_env(tmp_path), "TP_PIDS": str(pids)}
    cmd = regbench_cmd("run", path, "--store", store, "--workers", "1", "--no-progress", "--run-timeout", "20")
    # stdout is a pipe, as in `regbench run … | cat`: it reaches EOF only once every process
    # holding it (the worker's child included) is gone
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=600)
    finally:
        kill_quietly(proc.pid, *map(int, pids.read_text().split()) if pids.exists() else ())
    assert proc.returncode == 1, err
    assert "0 ok, 1 failed" in out
    worker, child = map(int, pids.read_text().split())
    assert gone(child) and gone(worker)
    from regbench.store import Store

    (rec,) = Store(store).records()
    assert rec["status"] == "failed" and rec["error"].startswith("timeout:")


def test_sigkill_of_the_driver_ends_the_hung_worker_and_its_child(plugins, tmp_path, write_suite):
    from regbench.store import Lease, Store

    path = write_suite(fast_suite(regularizers=[f"{plugins}:SpawnsAndHangs"]))
    store, pids = tmp_path / "s.sqlite", tmp_path / "pids"
    env = {**cli_env(tmp_path), "TP_PIDS": str(pids)}
    cmd = regbench_cmd("run", path, "--store", store, "--workers", "1", "--no-progress", "--run-timeout", "3000")
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        worker, child = map(int, wait_for_file(pids, driver).split())
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        assert gone(worker), "the orphan worker lives on"
        assert gone(child), "the worker's child lives on"
    finally:
        kill_quietly(driver.pid, *map(int, pids.read_text().split()) if pids.exists() else ())
    # the dead driver's lease is taken over at once by the next invocation, and nobody trains it
    db = Store(store)
    (held,) = db.leases()
    claim = db.claim([held["run_key"]], Lease())
    assert (claim.mine, claim.reclaimed) == ([held["run_key"]], 1)
    assert db.records() == []


WATCHED_WORKER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from regbench.harness.executors import process_group

    process_group._parent_death_signal = lambda signum: False  # as where prctl is missing
    process_group.lead_own_group()
    process_group.die_with_parent(int(sys.argv[1]), every=0.2)
    child = subprocess.Popen(["sleep", "600"])
    with open(sys.argv[2] + ".tmp", "w") as out:
        out.write(f"{os.getpid()} {child.pid}")
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])
    time.sleep(1000)
    """
)

DRIVER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    subprocess.Popen([sys.executable, sys.argv[1], str(os.getpid()), sys.argv[2]])
    time.sleep(1000)
    """
)


def test_without_the_parent_death_signal_the_watchdog_ends_an_orphans_group(tmp_path):
    (tmp_path / "worker.py").write_text(WATCHED_WORKER)
    (tmp_path / "driver.py").write_text(DRIVER)
    pids = tmp_path / "pids"
    env = cli_env(tmp_path)
    driver = subprocess.Popen([sys.executable, tmp_path / "driver.py", tmp_path / "worker.py", pids], env=env)
    try:
        worker, child = map(int, wait_for_file(pids, driver).split())
        assert os.getpgid(child) == worker  # the worker leads the group its child is in
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        assert gone(worker) and gone(child)
    finally:
        kill_quietly(driver.pid, *map(int, pids.read_text().split()) if pids.exists() else ())


# ---- --workers > 1 never runs a unit in the driver -------------------------------------------


def test_workers_2_with_a_single_unit_runs_it_in_a_worker(plugins, write_suite, store_path, isolated_cache, capsys):
    from regbench.store import Store

    path = write_suite(fast_suite(regularizers=[f"{plugins}:KillsItsProcess"]))
    # in this (pytest's) process: if the unit ran here, the SIGKILL would end the test run
    assert main(["run", str(path), "--store", str(store_path), "--workers", "2", "--no-progress"]) == 1
    (rec,) = Store(store_path).records()
    assert rec["status"] == "failed" and "worker process died" in rec["error"] and "signal 9" in rec["error"]


# ---- compare: the device is checked first, and the plan is printed ---------------------------


def test_compare_device_cuda_on_a_cpu_machine_is_one_line_and_records_nothing(
    write_suite, store_path, tmp_path, capsys
):
    path = write_suite(fast_suite(regularizers=["erm", "l2"]))
    argv = ["compare", "label_smoothing", "--suite", str(path), "--store", str(store_path), "--device", "cuda"]
    assert main([*argv, "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    assert "--device cuda" in one_line_error(capsys)
    assert not store_path.exists() and not (tmp_path / "out").exists()


def test_compare_prints_its_plan_before_the_report(write_suite, store_path, tmp_path, isolated_cache, capsys):
    path = write_suite(fast_suite(regularizers=["erm"]))
    argv = ["compare", "l2", "--suite", str(path), "--store", str(store_path), "--device", "cpu", "--workers", "1"]
    main([*argv, "--out", str(tmp_path / "out"), "--no-progress", "--no-leaderboard"])
    out = capsys.readouterr().out
    plan = "tiny: 2 runs planned: 1 of l2 (0 reused, 1 to train), 1 baseline runs (0 reused, 1 to train)"
    assert plan in out and out.index(plan) < out.index("# l2 vs the baselines")
    main([*argv, "--out", str(tmp_path / "out"), "--no-progress", "--no-leaderboard"])
    assert "1 of l2 (1 reused, 0 to train), 1 baseline runs (1 reused, 0 to train)" in capsys.readouterr().out
