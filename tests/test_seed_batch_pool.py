"""Seed groups in the local pool (`regbench run --batch-seeds --workers N`): groups and the runs
that cannot be batched share one queue of workers; a group that gains nothing on CPU trains its
seeds one by one and says why once; a worker that dies or hangs with a group fails exactly that
group's runs, and every run recorded before it stays recorded.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap

import pytest
from conftest import tiny_suite
from plugin_registry import clean_registry  # noqa: F401  (autouse fixture)
from test_faults import PLUGINS as FAULT_PLUGINS

from regbench.cli import main

# test_faults' plugins (Boom, ExitInHook, Hangs) and one that dies as the OOM killer kills
PLUGINS = FAULT_PLUGINS + textwrap.dedent(
    """
    import signal

    class DiesInHook(Regularizer):
        def penalty(self, model, batch):
            os.kill(os.getpid(), signal.SIGKILL)  # no exception, no record from the worker
    """
)


@pytest.fixture
def plugins(tmp_path):
    path = tmp_path / "tp_pool.py"
    path.write_text(PLUGINS)
    return path


def runs(store) -> dict[str, tuple[str, str, dict]]:
    """regularizer (plugin prefix cut) + seed → (status, error, timings) of every run in a store."""
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT regularizer, seed, status, error, timings FROM runs").fetchall()
    return {f"{r.rpartition(':')[2]}/{s}": (st, err or "", json.loads(t)) for r, s, st, err, t in rows}


def two_seeds(**overrides) -> dict:
    return tiny_suite(seeds=[0, 1], train={"epochs": 1, "batch_size": 128, "lr": 0.003}, **overrides)


def test_groups_and_unbatchable_runs_share_the_pool_and_the_reason_is_said_once(
    write_suite, tmp_path, isolated_cache, capsys
):
    path = write_suite(two_seeds(regularizers=["erm", "batchnorm", "l2"]))
    store = tmp_path / "s.sqlite"
    argv = ["run", str(path), "--store", str(store), "--workers", "2", "--batch-seeds", "--no-progress"]
    assert main(argv) == 0
    recs = runs(store)
    assert len(recs) == 6 and {st for st, _, _ in recs.values()} == {"ok"}
    for name in ("erm", "l2"):
        assert all(recs[f"{name}/{s}"][2]["seed_batch"] == 2 for s in (0, 1))
    for s in (0, 1):  # trained apart, and the record says why
        t = recs[f"batchnorm/{s}"][2]
        assert "seed_batch" not in t and t["seed_batch_fallback"].startswith("the model keeps buffers")
    err = capsys.readouterr().err
    assert err.count("× batchnorm trains its seeds separately: the model keeps buffers") == 1, err


def test_a_cnn_on_cpu_trains_its_seeds_apart_unless_batching_is_asked_for_everywhere(
    write_suite, tmp_path, isolated_cache, capsys
):
    from regbench.harness.plan import load_suite
    from regbench.harness.run_plan import run_plan
    from regbench.store import Store

    suite = two_seeds(regularizers=["erm", "l2"])
    suite["benchmarks"][0].update(model="cnn", model_args={"width": 4})
    path = write_suite(suite)
    apart, stacked = tmp_path / "apart.sqlite", tmp_path / "stacked.sqlite"
    assert main(["run", str(path), "--store", str(apart), "--workers", "1", "--batch-seeds", "--no-progress"]) == 0
    err = capsys.readouterr().err  # one line for the reason, not one per group it applies to
    assert err.count("on CPU a stacked convolutional model is no faster than separate runs") == 1, err
    assert err.count("trains its seeds separately") == 1, err
    recs = runs(apart)
    assert len(recs) == 4 and all("seed_batch" not in t and t["seed_batch_fallback"] for _, _, t in recs.values())
    store = Store(stacked)
    try:
        counts = run_plan(load_suite(path), store, workers=1, progress=False, batch_seeds="everywhere")
    finally:
        store.close()
    assert counts["ok"] == 4
    assert all(t["seed_batch"] == 2 for _, _, t in runs(stacked).values())


def test_a_full_batch_mlp_on_cpu_trains_its_seeds_apart(write_suite, tmp_path, isolated_cache, capsys):
    path = write_suite(tiny_suite(seeds=[0, 1], regularizers=["erm"], train={"epochs": 2, "batch_size": 4096}))
    store = tmp_path / "s.sqlite"
    assert main(["run", str(path), "--store", str(store), "--workers", "1", "--batch-seeds", "--no-progress"]) == 0
    assert "a full-batch run (one step per epoch) is no faster stacked" in capsys.readouterr().err
    assert all(st in ("ok", "collapsed") and "seed_batch" not in t for st, _, t in runs(store).values())


def test_a_worker_killed_inside_a_seed_group_fails_that_group_only(
    write_suite, tmp_path, plugins, isolated_cache, capsys
):
    path = write_suite(two_seeds(regularizers=["erm", f"{plugins}:DiesInHook", "l2"]))
    store = tmp_path / "s.sqlite"
    argv = ["run", str(path), "--store", str(store), "--workers", "2", "--batch-seeds", "--no-progress"]
    assert main(argv) == 1  # failed runs: the exit status says so
    recs = runs(store)
    assert len(recs) == 6
    for s in (0, 1):
        st, err, _ = recs[f"DiesInHook/{s}"]
        assert st == "failed" and "worker process died while running this run (signal 9)" in err
        for name in ("erm", "l2"):  # the other groups, before and after the death, are all kept
            assert recs[f"{name}/{s}"][0] == "ok" and recs[f"{name}/{s}"][2]["seed_batch"] == 2


def test_a_hung_seed_group_is_killed_after_its_runs_time_limits(write_suite, tmp_path, plugins, isolated_cache):
    path = write_suite(two_seeds(regularizers=[f"{plugins}:Hangs", "erm"]))
    store = tmp_path / "s.sqlite"
    argv = ["run", str(path), "--store", str(store), "--workers", "2", "--batch-seeds", "--no-progress"]
    assert main([*argv, "--run-timeout", "4"]) == 1
    recs = runs(store)
    assert recs["erm/0"][0] == recs["erm/1"][0] == "ok"
    for s in (0, 1):
        st, err, _ = recs[f"Hangs/{s}"]
        assert st == "failed" and err == (
            "timeout: its seed group of 2 runs exceeded their time limit of 2 × 4 s and was killed"
        )


def test_on_slurm_the_groups_train_in_the_driver_and_the_rest_go_to_the_cluster(
    write_suite, tmp_path, isolated_cache, capsys
):
    pytest.importorskip("submitit", reason="submitit is an optional extra: pip install -e '.[slurm]'")
    from regbench.harness.plan import load_suite
    from regbench.harness.run_plan import run_plan
    from regbench.store import Store

    path = write_suite(two_seeds(regularizers=["erm", "batchnorm"]))
    store = Store(tmp_path / "s.sqlite")
    try:
        counts = run_plan(
            load_suite(path),
            store,
            executor="slurm",
            cluster="local",
            progress=False,
            poll_seconds=0.2,
            batch_seeds=True,
        )
    finally:
        store.close()
    assert counts["ok"] == 4
    recs = runs(tmp_path / "s.sqlite")
    assert recs["erm/0"][2]["seed_batch"] == recs["erm/1"][2]["seed_batch"] == 2
    assert all("seed_batch" not in recs[f"batchnorm/{s}"][2] for s in (0, 1))
    assert list((tmp_path / "submitit").rglob("*_log.out"))  # batchnorm's runs went through submitit
    assert capsys.readouterr().err.count("× batchnorm trains its seeds separately: the model keeps buffers") == 1


def test_in_run_checkpoints_keep_a_group_apart_and_say_so_once(write_suite, tmp_path, isolated_cache, capsys):
    path = write_suite(two_seeds(regularizers=["erm", "l2"]))
    store = tmp_path / "s.sqlite"
    argv = ["run", str(path), "--store", str(store), "--workers", "1", "--batch-seeds", "--no-progress"]
    assert main([*argv, "--checkpoint-every", "1"]) == 0
    err = capsys.readouterr().err
    assert err.count("trains its seeds separately: in-run checkpoints are saved per run") == 1, err
    recs = runs(store)
    assert len(recs) == 4
    assert all(
        st == "ok" and t["seed_batch_fallback"] == "in-run checkpoints are saved per run" for st, _, t in recs.values()
    )
