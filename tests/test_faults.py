"""Fault injection through the command line: bad options, hostile files, failing and hanging
plugins, damaged or foreign stores, concurrent processes (issue #12, README "Reliability").

Every case asserts the exit status and that the message is one line (never a traceback).
"""

from __future__ import annotations

import textwrap
from urllib.error import URLError

import pytest
from conftest import tiny_suite
from plugin_registry import clean_registry  # noqa: F401  (autouse fixture)

from regbench.cli import main


def fast_suite(**overrides) -> dict:
    """One benchmark, MLP width 16, one epoch, one seed: well under a second per run."""
    suite = tiny_suite(seeds=[0], train={"epochs": 1, "batch_size": 128, "lr": 0.003})
    suite["benchmarks"][0]["model_args"] = {"width": 16, "depth": 1}
    suite["regularizers"] = ["erm"]
    suite.update(overrides)
    return suite


PLUGINS = textwrap.dedent(
    """
    import os, time
    from regbench import Regularizer

    class Boom(Regularizer):
        def penalty(self, model, batch):
            raise ValueError("boom")

    class ExitInHook(Regularizer):
        def penalty(self, model, batch):
            raise SystemExit(3)

    class Hangs(Regularizer):
        def penalty(self, model, batch):
            time.sleep(1000)
    """
)


@pytest.fixture
def plugins(tmp_path):
    path = tmp_path / "tp_faults.py"
    path.write_text(PLUGINS)
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") or "error:" in err, err
    return err


# ---- item 6: the command line says the truth ------------------------------------------------


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_workers_below_one_is_a_usage_error(workers, write_suite, store_path, capsys):
    path = write_suite(fast_suite())
    with pytest.raises(SystemExit) as info:
        main(["run", str(path), "--store", str(store_path), "--workers", workers, "--no-progress"])
    assert info.value.code == 2
    assert "--workers" in capsys.readouterr().err
    assert not store_path.exists()  # nothing was planned, nothing written


def test_run_plan_refuses_workers_below_one_through_the_api(write_suite, store_path, isolated_cache):
    from regbench.harness.executors import ExecutorError
    from regbench.harness.plan import load_suite
    from regbench.harness.run_plan import run_plan
    from regbench.store import Store

    with pytest.raises(ExecutorError, match="workers must be an integer >= 1"):
        run_plan(load_suite(write_suite(fast_suite())), Store(store_path), workers=-1, progress=False)


def test_exit_status_is_1_when_a_run_fails_and_0_when_all_are_ok(
    write_suite, store_path, plugins, capsys, isolated_cache
):
    ok = write_suite(fast_suite(), "ok.yaml")
    assert main(["run", str(ok), "--store", str(store_path), "--workers", "1", "--no-progress"]) == 0
    bad = write_suite(fast_suite(regularizers=["erm", f"{plugins}:Boom"]), "bad.yaml")
    assert main(["run", str(bad), "--store", str(store_path), "--workers", "1", "--no-progress"]) == 1
    out = capsys.readouterr()
    assert "1 reused" in out.out and "0 ok, 1 failed" in out.out  # erm reused; only Boom trained
    assert "not every planned run is ok: 1 failed" in out.err
    # rerunning retries the failed run; it fails again, so the status stays 1
    assert main(["run", str(bad), "--store", str(store_path), "--workers", "1", "--no-progress"]) == 1


def test_a_suite_named_dot_dot_is_refused(write_suite, capsys):
    path = write_suite(fast_suite(name=".."))
    assert main(["validate", str(path)]) == 1
    err = one_line_error(capsys)
    assert "name" in err and "one path component" in err


def test_compare_name_must_be_one_path_component(write_suite, store_path, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_suite(fast_suite())
    assert main(["compare", "l1", "--suite", str(path), "--store", str(store_path), "--name", ".."]) == 1
    assert "one path component" in one_line_error(capsys)
    assert not store_path.exists()


def test_a_suite_path_that_is_a_directory_or_binary_is_one_line(tmp_path, capsys):
    folder = tmp_path / "suite.yaml"
    folder.mkdir()
    assert main(["validate", str(folder)]) == 1
    assert "is a directory" in one_line_error(capsys)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert main(["validate", str(binary)]) == 1
    assert "not a text file" in one_line_error(capsys)


def test_download_cifar10_offline_is_one_line_with_the_url(tmp_path, monkeypatch, capsys):
    import torchvision.datasets

    class Offline(torchvision.datasets.CIFAR10):
        def __init__(self, *args, **kwargs):
            raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", Offline)
    assert main(["data", "download", "cifar10", "--root", str(tmp_path)]) == 1
    err = one_line_error(capsys)
    assert Offline.url in err and "by hand" in err and "name resolution" in err


def test_download_hf_offline_is_one_line_with_the_url(tmp_path, monkeypatch, capsys):
    import regbench.data.hub as hub

    class NoNetwork:
        @staticmethod
        def load_dataset(path, config):
            raise ConnectionError("Couldn't reach 'x/y' on the Hub")

    monkeypatch.setattr(hub, "import_datasets", lambda offline=True: NoNetwork)
    assert main(["data", "download", "hf:x/y", "--root", str(tmp_path)]) == 1
    err = one_line_error(capsys)
    assert "https://huggingface.co/datasets/x/y" in err and "save_to_disk" in err


def test_download_wilds_offline_names_the_url_and_leaves_no_empty_folder(tmp_path, monkeypatch, capsys):
    wilds = pytest.importorskip("wilds")

    def offline(name, root_dir, download):
        (tmp_path / f"{name}_v1.0").mkdir()  # what WILDS leaves behind before it fails
        raise FileNotFoundError(f"{root_dir}/{name}_v1.0/metadata.csv")

    monkeypatch.setattr(wilds, "get_dataset", offline)
    assert main(["data", "download", "wilds:waterbirds", "--root", str(tmp_path)]) == 1
    err = one_line_error(capsys)
    assert "codalab.org" in err and "waterbirds_v1.0" in err
    assert not (tmp_path / "waterbirds_v1.0").exists()


# ---- item 4: a store is checked before it is written --------------------------------------


def filled_store(path, n: int = 40):
    """A store holding ``n`` finished runs (no training: records written directly)."""
    from test_store import record

    from regbench.store import Store

    store = Store(path)
    for i in range(n):
        store.put(record(f"k{i:03d}", seed=i))
    store.close()
    return path


def digest(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_lines(store, capsys) -> int:
    assert main(["export", "--store", str(store), "--format", "jsonl"]) == 0
    return len(capsys.readouterr().out.splitlines())


@pytest.fixture
def read_only_dir(tmp_path):
    """make(folder): make ``folder`` unwritable (chmod, and chattr +i when running as root)."""
    import os
    import subprocess

    made = []

    def make(folder):
        folder.chmod(0o555)
        made.append(folder)
        if os.access(folder, os.W_OK):  # root ignores modes: make the folder immutable instead
            if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
                pytest.skip("cannot make a read-only folder here (root without chattr)")
        return folder

    yield make
    for folder in made:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path, capsys):
    import sqlite3

    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE runs (a, b)")
        db.execute("INSERT INTO runs VALUES (1, 2)")
    before = digest(foreign)
    for argv in (["export"], ["run", str(tmp_path / "missing.yaml")]):
        assert main([*argv, "--store", str(foreign)]) == 1
        capsys.readouterr()
    assert main(["export", "--store", str(foreign)]) == 1
    assert "not a regbench store" in one_line_error(capsys)
    assert digest(foreign) == before
    with sqlite3.connect(foreign) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["runs"]


@pytest.mark.parametrize("version,words", [("99", "newer than this regbench"), ("2.1-beta", "not a number")])
def test_a_future_or_odd_schema_version_is_refused_untouched(version, words, tmp_path, capsys):
    import sqlite3

    store = filled_store(tmp_path / "s.sqlite", n=2)
    with sqlite3.connect(store) as db:
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (version,))
    before = digest(store)
    assert main(["export", "--store", str(store)]) == 1
    assert words in one_line_error(capsys)
    from regbench.store import Store, StoreError

    with pytest.raises(StoreError, match=words):  # the writing side refuses it too
        Store(store)
    assert digest(store) == before


def test_a_new_store_records_its_version_in_user_version(tmp_path):
    import sqlite3

    from regbench.store import SCHEMA_VERSION

    store = filled_store(tmp_path / "s.sqlite", n=1)
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_export_of_a_missing_store_creates_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--store", "typo/dir/x.sqlite"]) == 1
    assert "no store there" in one_line_error(capsys)
    assert not (tmp_path / "typo").exists()


def test_read_only_commands_work_in_a_read_only_folder(tmp_path, read_only_dir, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    store = filled_store(folder / "s.sqlite", n=3)
    read_only_dir(folder)
    assert export_lines(store, capsys) == 3
    assert sorted(p.name for p in folder.iterdir()) == ["s.sqlite"]  # no -wal/-shm left behind
    # writing is refused with one line rather than a traceback
    from regbench.store import Store, StoreError

    with pytest.raises(StoreError, match="read-only"):
        Store(store).put(__import__("test_store").record("new"))


def test_a_damaged_store_is_one_line_suggesting_recover(tmp_path, capsys):
    store = filled_store(tmp_path / "s.sqlite", n=200)
    data = bytearray(store.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    for start in range(2 * page, len(data) - page, 3 * page):  # keep the header, wreck pages
        data[start : start + page] = b"\xff" * page
    store.write_bytes(bytes(data))
    assert main(["export", "--store", str(store)]) == 1
    err = one_line_error(capsys)
    assert ".recover" in err and str(store) in err


# ---- item 3: one store, many processes ----------------------------------------------------

COUNTED = textwrap.dedent(
    """
    import os
    from regbench import Regularizer

    class Counted(Regularizer):
        '''Appends one line per run it trains to $TP_LOG: how often each run was trained.'''

        def __init__(self, lam: float = 0.0):
            self.lam = lam

        def setup(self, ctx):
            with open(os.environ["TP_LOG"], "a") as log:
                log.write(f"{self.lam} {os.getpid()}\\n")
    """
)


def counted_suite(tmp_path, write_suite, epochs: int = 1, lams=(0.1, 0.2, 0.3)):
    plugin = tmp_path / "tp_counted.py"
    plugin.write_text(COUNTED)
    regs = [{"name": f"{plugin}:Counted", "lam": lam} for lam in lams]
    suite = fast_suite(regularizers=regs, seeds=[0, 1])
    suite["train"]["epochs"] = epochs
    return write_suite(suite, "counted.yaml")


def cli_env(tmp_path) -> dict:
    import os
    from pathlib import Path

    repo = str(Path(__file__).resolve().parent.parent)
    return {
        **os.environ,
        "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "REGBENCH_CACHE": str(tmp_path / "cache"),
        "TP_LOG": str(tmp_path / "trained.log"),
        "PYTHONUNBUFFERED": "1",
    }


def regbench_cmd(*argv) -> list[str]:
    import sys

    return [sys.executable, "-m", "regbench.cli", *map(str, argv)]


def test_claim_skips_live_leases_and_reclaims_expired_ones(tmp_path):
    import os
    import subprocess
    import time

    from regbench.store import Lease, Store

    store = Store(tmp_path / "s.sqlite")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        live = Lease(pid=sleeper.pid)
        assert store.claim(["a", "b"], live).mine == ["a", "b"]
        mine = Lease()
        claim = store.claim(["a", "b", "c"], mine)
        assert (claim.mine, claim.elsewhere, claim.reclaimed) == (["c"], ["a", "b"], 0)
        sleeper.kill()
        sleeper.wait()  # the holder is gone: its leases expire at once on this host
        claim = store.claim(["a", "b", "c"], mine)
        assert (claim.mine, claim.elsewhere, claim.reclaimed) == (["a", "b", "c"], [], 2)
    finally:
        sleeper.kill()
        sleeper.wait()
    # on another host only the heartbeat tells: fresh → held, older than the timeout → expired
    far = Lease(pid=os.getpid(), host="another-host")
    store.release(mine)
    assert store.claim(["x"], far).mine == ["x"]
    assert store.claim(["x"], mine, timeout=60).elsewhere == ["x"]
    store.db.execute("UPDATE leases SET heartbeat=? WHERE run_key='x'", (time.time() - 61,))
    assert store.claim(["x"], mine, timeout=60).mine == ["x"]
    # a finished run is never claimed; recording a run ends its lease
    from test_store import record

    assert [r["run_key"] for r in store.leases()] == ["x"]
    store.put(record("x"))
    assert store.leases() == []
    assert store.claim(["x"], far).finished == ["x"]


def test_three_concurrent_runs_train_every_run_exactly_once(tmp_path, write_suite):
    import sqlite3
    import subprocess

    suite = counted_suite(tmp_path, write_suite)
    store = tmp_path / "s.sqlite"
    env = cli_env(tmp_path)
    cmd = regbench_cmd("run", suite, "--store", store, "--workers", "1", "--no-progress")
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    codes = [p.returncode for p in procs]
    trained_lines = (tmp_path / "trained.log").read_text().splitlines()
    assert len(trained_lines) == 6, f"each of the 6 runs trained once, got {trained_lines}"
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT run_key), SUM(status='ok') FROM runs").fetchone() == (
            6,
            6,
            6,
        )
        assert db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
    # whoever did not train a run said where it was: reused, or running elsewhere (exit 3)
    assert sorted(codes)[0] == 0 and set(codes) <= {0, 3}, outs
    for (out, err), code in zip(outs, codes):
        if code == 3:
            assert "running elsewhere" in out and "not recorded" in err
    assert sum(int(o.split("trained ")[1].split()[0]) for o, _ in outs if "trained " in o) == 6


def test_kill_9_of_the_holder_lets_the_next_invocation_reclaim(tmp_path, write_suite):
    import signal
    import sqlite3
    import subprocess
    import time

    suite = counted_suite(tmp_path, write_suite, epochs=30)
    store = tmp_path / "s.sqlite"
    env = cli_env(tmp_path)
    cmd = regbench_cmd("run", suite, "--store", store, "--workers", "1", "--no-progress")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, leased = time.time() + 300, 0
    while time.time() < deadline and proc.poll() is None and not leased:
        time.sleep(0.05)
        try:
            with sqlite3.connect(store) as db:
                leased = db.execute("SELECT COUNT(*) FROM leases").fetchone()[0]
        except sqlite3.OperationalError:
            continue
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert leased == 6, "the kill should land while the runs are leased"
    with sqlite3.connect(store) as db:
        recorded = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        assert db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 6 - recorded  # the dead holder's
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert f"{6 - recorded} runs reclaimed from expired leases" in out.stdout
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*), SUM(status='ok') FROM runs").fetchone() == (6, 6)
        assert db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0


# ---- item 5: a failing plugin fails its own run ---------------------------------------------


def test_system_exit_in_a_hook_fails_only_that_run_in_process(write_suite, store_path, plugins, capsys, isolated_cache):
    from regbench.store import Store

    path = write_suite(fast_suite(regularizers=[f"{plugins}:ExitInHook", "erm"]))
    assert main(["run", str(path), "--store", str(store_path), "--workers", "1", "--no-progress"]) == 1
    assert "1 ok, 1 failed" in capsys.readouterr().out
    recs = {r["regularizer"].rpartition(":")[2]: r for r in Store(store_path).records()}
    assert recs["erm"]["status"] == "ok"
    assert recs["ExitInHook"]["status"] == "failed"
    assert "hook penalty raised SystemExit: 3" in recs["ExitInHook"]["error"]


def test_a_hung_hook_is_killed_by_run_timeout_and_the_rest_goes_on(
    write_suite, store_path, plugins, capsys, isolated_cache
):
    import time

    from regbench.store import Store

    path = write_suite(fast_suite(regularizers=[f"{plugins}:Hangs", "erm"]))
    t0 = time.monotonic()
    argv = ["run", str(path), "--store", str(store_path), "--workers", "1", "--no-progress", "--run-timeout", "20"]
    assert main(argv) == 1  # --workers 1 with a time limit: the run goes to a worker process
    assert time.monotonic() - t0 < 600  # not the hook's 1000 s
    recs = {r["regularizer"].rpartition(":")[2]: r for r in Store(store_path).records()}
    assert recs["erm"]["status"] == "ok"
    assert recs["Hangs"]["status"] == "failed" and recs["Hangs"]["error"].startswith("timeout:")
    assert "20 s" in recs["Hangs"]["error"]


def test_the_suite_field_run_timeout_applies_in_the_pool(write_suite, store_path, plugins, isolated_cache):
    from regbench.store import Store

    path = write_suite(fast_suite(regularizers=[f"{plugins}:Hangs", "erm"], run_timeout=20))
    assert main(["run", str(path), "--store", str(store_path), "--workers", "2", "--no-progress"]) == 1
    statuses = {
        r["regularizer"].rpartition(":")[2]: (r["status"], r["error"] or "") for r in Store(store_path).records()
    }
    assert statuses["erm"][0] == "ok"
    assert statuses["Hangs"][0] == "failed" and statuses["Hangs"][1].startswith("timeout:")


@pytest.mark.parametrize("bad", ["0", "-3"])
def test_run_timeout_must_be_positive(bad, write_suite, store_path, capsys):
    path = write_suite(fast_suite())
    assert main(["run", str(path), "--store", str(store_path), "--run-timeout", bad]) == 1
    assert "--run-timeout must be > 0" in one_line_error(capsys)


# ---- item 7: parameters are checked before anything trains --------------------------------


def with_model_args(**args) -> dict:
    suite = fast_suite()
    suite["benchmarks"][0]["model_args"] = {**suite["benchmarks"][0]["model_args"], **args}
    return suite


@pytest.mark.parametrize(
    "suite,where,words",
    [
        (
            fast_suite(regularizers=[{"name": "mixup", "alpha": -5}]),
            "regularizers[0].stack[0].params.alpha",
            "greater than 0",
        ),
        (fast_suite(regularizers=[{"name": "dropout", "p": 1.5}]), "regularizers[0].stack[0].params.p", "less than 1"),
        (fast_suite(regularizers=[{"name": "l1", "lam": -1}]), "params.lam", "greater than or equal to 0"),
        (fast_suite(regularizers=[{"name": "label_smoothing", "smoothing": 1.0}]), "params.smoothing", "less than 1"),
        (
            fast_suite(regularizers=[{"name": "randaugment", "magnitude": 99}]),
            "params.magnitude",
            "less than or equal to 30",
        ),
        (with_model_args(width=0), "benchmarks[0].model_args.width", "greater than or equal to 1"),
        (with_model_args(width=-5), "benchmarks[0].model_args.width", "greater than or equal to 1"),
        (fast_suite(train={"epochs": True}), "train.epochs", "a number, not a boolean"),
        (fast_suite(seeds=[True]), "seeds", "numbers, not booleans"),
        (fast_suite(regularizers=[{"name": "l1", "lam": True}]), "params.lam", "a number, not a boolean"),
        (fast_suite(regularizers=[{"name": "l1", "lamda": 0.1}]), "params.lamda", "Did you mean: lam?"),
        (fast_suite(train={"epoch": 3}), "train.epoch", "Did you mean: epochs?"),
    ],
)
def test_validate_refuses_out_of_range_and_mistyped_parameters(suite, where, words, write_suite, capsys):
    assert main(["validate", str(write_suite(suite))]) == 1
    err = one_line_error(capsys)
    assert where in err and words in err


def test_a_shift_parameter_typo_suggests_the_field(write_suite, capsys):
    suite = fast_suite()
    suite["benchmarks"][0]["shift"]["severitis"] = [1]
    assert main(["validate", str(write_suite(suite))]) == 1
    assert "shift.severitis: unknown field (not allowed here). Did you mean: severities" in one_line_error(capsys)


def test_compare_param_typo_suggests_the_parameter(write_suite, store_path, capsys):
    path = write_suite(fast_suite())
    assert main(["compare", "l1", "--suite", str(path), "--store", str(store_path), "--param", "lamda=0.1"]) == 1
    assert "Did you mean: lam?" in one_line_error(capsys)
    assert not store_path.exists()


# ---- item 8: a plugin is identified by its code -------------------------------------------

PLUG = textwrap.dedent(
    """
    from regbench import Regularizer

    class Plug(Regularizer):
        def __init__(self, lam: float = 0.0):
            self.lam = lam

        def penalty(self, model, batch):
            return self.lam * batch.logits.pow(2).mean()
    """
)


def test_editing_a_plugin_trains_new_runs_and_runs_rm_removes_the_stale_ones(
    write_suite, store_path, tmp_path, capsys, isolated_cache, monkeypatch
):
    import re
    import sys

    monkeypatch.chdir(tmp_path)
    plugin = tmp_path / "tp_plug.py"
    plugin.write_text(PLUG)
    suite = write_suite(fast_suite())
    argv = ["compare", f"{plugin}:Plug", "--suite", str(suite), "--store", str(store_path), "--workers", "1"]
    argv += ["--no-leaderboard", "--no-progress"]

    def compare() -> tuple[str, str]:
        for name in [m for m in sys.modules if m.startswith("regbench_plugin_tp_plug")]:
            sys.modules.pop(name)  # a new invocation reads the file again, as a new process would
        assert main(argv) == 0
        out = capsys.readouterr().out
        return out, re.search(r"code (sha256:[0-9a-f]{16})", out).group(1)

    first, code1 = compare()
    assert "Its runs: 0 of 1 reused" in first
    again, code2 = compare()
    assert "Its runs: 1 of 1 reused" in again and code2 == code1
    plugin.write_text(PLUG.replace("self.lam * ", "2 * self.lam * "))  # same name, new code
    edited, code3 = compare()
    assert "Its runs: 0 of 1 reused" in edited and code3 != code1

    from regbench.store import Store

    assert sum(r["regularizer"] == "Plug" for r in Store(store_path).records()) == 2
    assert main(["runs", "rm", "--regularizer", "Plug", "--stale", "--store", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert f"recorded with code {code1}, is now {code3}" in out and "removed 1 of 2 runs of 'Plug'" in out
    left = [r for r in Store(store_path).records() if r["regularizer"] == "Plug"]
    assert [r["spec"]["regularizer"][0]["code"] for r in left] == [code3]
    assert main(["runs", "rm", "--regularizer", "Plug", "--store", str(store_path)]) == 0
    assert "removed 1 of 1 runs" in capsys.readouterr().out
    assert {r["regularizer"] for r in Store(store_path).records()} == {"erm"}  # the baseline stays
    assert main(["runs", "rm", "--regularizer", "Plug", "--store", str(store_path)]) == 1
    assert "no runs of regularizer 'Plug'" in one_line_error(capsys)


def test_standard_regularizers_keep_their_run_keys(write_suite):
    from regbench.harness.plan import load_suite

    run = load_suite(write_suite(fast_suite())).runs[0]
    assert run.code == (None,) and "code" not in run.canonical["regularizer"][0]


# ---- item 9: Markdown outputs escape what they quote ---------------------------------------

HOSTILE = "<img src=x onerror=alert(1)>|x"


def test_markdown_reports_escape_html_and_pipes_from_names(write_suite, store_path, tmp_path, isolated_cache):
    suite = fast_suite(
        description="<script>alert('desc')</script> | a pipe",
        seeds=[0, 1],
        regularizers=["erm", {"stack": ["l1"], "label": HOSTILE}],
    )
    path = write_suite(suite)
    out = tmp_path / "lb"
    assert main(["run", str(path), "--store", str(store_path), "--workers", "1", "--no-progress"]) == 0
    assert main(["leaderboard", str(path), "--store", str(store_path), "--out", str(out), "--no-plots"]) == 0
    argv = ["compare", "l2", "--suite", str(path), "--store", str(store_path), "--workers", "1"]
    assert main([*argv, "--out", str(out), "--no-leaderboard", "--no-progress"]) == 0
    (report,) = out.glob("compare-l2-*.md")  # named by the submission's identity
    for name in ("README.md", "diagnostics.md", report.name):
        text = (out / name).read_text()
        assert "<img" not in text and "<script>" not in text, name
        assert "&lt;img src=x onerror=alert(1)>\\|x" in text, name
    assert "&lt;script>alert('desc')&lt;/script> \\| a pipe" in (out / "README.md").read_text()


def test_selection_table_escapes_config_labels():
    from regbench.report.render.markdown import md
    from regbench.report.render.selection_table import selection_table
    from regbench.report.table.model_selection import Selection

    chosen = {
        ("b|1", "erm"): Selection("b|1", "erm", HOSTILE, 0.5, 2, run_keys=("k",), params=[{"params": {"x": "<b>"}}])
    }
    rec = {"run_key": "k", "metrics": {"test_id": {"accuracy": 0.5}}, "spec": {}}
    table = selection_table(chosen, [rec], "val_accuracy")
    assert "<img" not in table and "<b>" not in table
    assert f"| b\\|1 | erm | {md(HOSTILE)} | x=&lt;b> |" in table
    assert md("a\nb|c<d>&") == "a b\\|c&lt;d>&amp;"
