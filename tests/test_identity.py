"""Run identity (issue 25): a run key covers everything that changes the numbers, a record does
not depend on the machine's core count, and a suite's rows are exactly its declared configs."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import textwrap

import pytest
import torch
from conftest import tiny_suite

from regbench.cli import main
from regbench.harness.numerics import bind_numerics, numerics_for
from regbench.harness.plan import Numerics, load_suite
from regbench.train.execution import DEFAULT_THREADS, precision

# run-level rows that measure the machine, not the model
TIMING = {"train_seconds", "train_cpu_seconds", "eval_seconds", "samples_per_second", "peak_memory_mb"}


def thread_sensitive_suite() -> dict:
    """A CNN on digits, one epoch: its convolutions sum in another order with another thread
    count, so a run computed with the machine's thread count shows in its metrics (1 vs 2
    threads differ here), while a run takes about a tenth of a second."""
    suite = tiny_suite(name="thr", train={"epochs": 1, "batch_size": 128, "lr": 0.003}, regularizers=["erm"])
    suite["benchmarks"][0]["model"] = "cnn"
    suite["benchmarks"][0]["model_args"] = {"width": 8, "depth": 2}
    return suite


def metrics_of(store) -> dict[tuple[str, str, str], float]:
    """(run_key, split, metric) → value, timing rows left out."""
    db = sqlite3.connect(store)
    rows = db.execute("SELECT run_key, split, metric, value FROM metrics").fetchall()
    db.close()
    return {(k, s, m): v for k, s, m, v in rows if m not in TIMING}


def envs_of(store) -> dict[str, dict]:
    db = sqlite3.connect(store)
    out = {k: json.loads(env) for k, env in db.execute("SELECT run_key, env FROM runs")}
    db.close()
    return out


def run_cli(suite, store, *extra: str) -> None:
    assert main(["run", str(suite), "--store", str(store), "--no-progress", *extra]) == 0


@contextlib.contextmanager
def machine_with(cores: int, monkeypatch):
    """Pretend this machine has ``cores`` cores: the pool sizes itself from ``os.cpu_count``, and
    torch in this process and in every spawned worker starts with ``cores`` intra-op threads."""
    old = torch.get_num_threads()
    with monkeypatch.context() as m:
        m.setattr(os, "cpu_count", lambda: cores)
        m.setenv("OMP_NUM_THREADS", str(cores))
        torch.set_num_threads(cores)
        try:
            yield
        finally:
            torch.set_num_threads(old)


def test_records_do_not_depend_on_workers_or_the_machines_core_count(write_suite, tmp_path, monkeypatch, capsys):
    from regbench.harness.executors.local import LocalExecutor

    suite = write_suite(thread_sensitive_suite())
    one, two, many, threads2 = (tmp_path / f"{n}.sqlite" for n in ("one", "two", "many", "threads2"))
    with machine_with(1, monkeypatch):
        assert LocalExecutor(device="cpu").workers == 1
        run_cli(suite, one)  # default workers: one, in this process
    run_cli(suite, two, "--workers", "2")  # a pool of 2 worker processes
    assert "--threads" not in capsys.readouterr().err  # the default says nothing
    with machine_with(16, monkeypatch):
        assert LocalExecutor(device="cpu").workers == 16
        run_cli(suite, many)  # default workers: one per reported core
    reference = metrics_of(one)
    assert len({k for k, _, _ in reference}) == 2  # two seeds: two units, so a pool where it may
    assert metrics_of(two) == reference
    assert metrics_of(many) == reference
    for store in (one, two, many):
        assert {env["threads"] for env in envs_of(store).values()} == {DEFAULT_THREADS}
    # raising --threads: the user is told once, the runs get other keys, the records say so —
    # and the numbers do differ, so the equalities above would catch a machine-sized count
    run_cli(suite, threads2, "--workers", "1", "--threads", "2")
    assert capsys.readouterr().err.count("note: --threads 2") == 1
    assert {env["threads"] for env in envs_of(threads2).values()} == {2}
    other = metrics_of(threads2)
    assert not {k for k, _, _ in other} & {k for k, _, _ in reference}
    strip = lambda m: {key[1:]: v for key, v in m.items()}  # noqa: E731 (drop the run key)
    assert sorted(strip(other).items()) != sorted(strip(reference).items())


def test_threads_device_and_precision_are_part_of_the_run_key(write_suite):
    plan = load_suite(write_suite(tiny_suite()))
    keys = lambda p: [r.run_key for r in p.runs]  # noqa: E731
    # the defaults are what a plain CPU run computes in: an unbound plan has the keys run_plan trains
    assert Numerics() == numerics_for("cpu", DEFAULT_THREADS)
    assert Numerics().precision == precision(torch.device("cpu"))
    assert keys(bind_numerics(plan)) == keys(plan)
    assert keys(bind_numerics(plan, deterministic=True)) == keys(plan)  # --deterministic pins 1 thread
    two = bind_numerics(plan, threads=2)
    assert all(r.numerics.threads == 2 for r in two.runs)
    assert not set(keys(two)) & set(keys(plan))
    cuda = plan.with_numerics(numerics_for("cuda", DEFAULT_THREADS))
    assert cuda.runs[0].canonical["numerics"] == {"device": "cuda", "precision": "bf16", "threads": 1}
    assert not set(keys(cuda)) & set(keys(plan))
    # the driver's answer matches the local executor's own
    from regbench.harness.executors.local import LocalExecutor
    from regbench.harness.numerics import device_type_for

    for device in ("cpu", "auto"):
        assert device_type_for(device, "local") == LocalExecutor(device=device).device_type()


def board_bytes(suite, store, out) -> bytes:
    args = ["leaderboard", str(suite), "--store", str(store), "--out", str(out), "--no-plots", "--reps", "50"]
    assert main([*args, "--format", "csv"]) == 0
    return (out / "leaderboard.csv").read_bytes()


def test_sweep_and_compare_variants_leave_the_suites_rows_byte_identical(write_suite, tmp_path, capsys):
    # a declared strength that no sweep candidate has: the sweep's pick is another run than the row
    regs = ["erm", {"name": "label_smoothing", "smoothing": 0.05}]
    suite = write_suite(tiny_suite(seeds=[0, 1], train={"epochs": 1, "batch_size": 128}, regularizers=regs))
    store = tmp_path / "s.sqlite"
    run_cli(suite, store, "--workers", "1")
    before = board_bytes(suite, store, tmp_path / "before")
    assert b"label_smoothing" in before and b"erm" in before
    sweep_out = tmp_path / "sweep"
    run_cli(suite, store, "--workers", "1", "--sweep", "2", "--sweep-seed", "1", "--out", str(sweep_out))
    table = (
        (sweep_out / "selection.md").read_text().split("## Candidates and reasons")[0]
    )  # the choice, not the candidates
    (picked,) = [line for line in table.splitlines() if "[sweep " in line]
    assert "| smoothing=0.05 |" not in picked  # the sweep chose another run than the suite's row
    cmp_out = tmp_path / "cmp"
    for smoothing, extra in (("0.2", []), ("0.3", ["--no-leaderboard"])):  # two variants, one name
        args = ["compare", "label_smoothing", "--param", f"smoothing={smoothing}", "--name", "ls", "--suite"]
        args += [str(suite), "--store", str(store), "--workers", "1", "--out", str(cmp_out), "--no-progress"]
        assert main([*args, *extra]) == 0
    capsys.readouterr()
    reports = sorted(cmp_out.glob("compare-ls-*.md"))
    assert len(reports) == 2  # each variant's report is named by its identity: neither overwrote the other
    assert "(parameters: smoothing=0.2)" in reports[0].read_text() + reports[1].read_text()
    assert "(parameters: smoothing=0.3)" in reports[0].read_text() + reports[1].read_text()
    # the first variant's own leaderboard shows it beside the baselines, marked a submission
    (board,) = [p for p in cmp_out.iterdir() if p.is_dir()]
    assert board.name == next(r.stem for r in reports if "smoothing=0.2" in r.read_text())
    lines = (board / "leaderboard.csv").read_text().splitlines()
    assert any(line.startswith("ls") or ",ls" in line for line in lines[1:])
    assert json.loads((board / "leaderboard.json").read_text())  # a whole leaderboard, not a stub
    db = sqlite3.connect(store)
    namespaces = {s for (s,) in db.execute("SELECT DISTINCT suite FROM suite_runs")}
    assert namespaces == {"tiny", "tiny-sweep", *(f"tiny/compare/{r.stem.removeprefix('compare-')}" for r in reports)}
    db.close()
    after = board_bytes(suite, store, tmp_path / "after")
    assert after == before


HELPER = "SCALE = 1.0\n"
PLUGIN = textwrap.dedent(
    """
    import math

    import torch

    from regbench import Regularizer
    from idhelper import SCALE


    class Helped(Regularizer):
        def penalty(self, model, batch):
            return SCALE * batch.logits.pow(2).mean()


    def later():
        import idhelper_lazy  # found without being run: it raises if executed
    """
)


def forget_plugin_modules() -> None:
    """What a new process would do: import the plugin and its helpers again from disk."""
    for name in [m for m in sys.modules if m.startswith(("regbench_plugin_idplug", "idhelper"))]:
        sys.modules.pop(name)


def test_editing_a_plugins_helper_module_retrains_its_runs(write_suite, tmp_path, monkeypatch, capsys):
    from regbench.regularizers.build import lookup
    from regbench.regularizers.plugins import local_imports

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "idhelper.py").write_text(HELPER)
    (tmp_path / "idhelper_lazy.py").write_text("raise RuntimeError('executed')\n")
    (tmp_path / "idplug.py").write_text(PLUGIN)
    spec = f"{tmp_path / 'idplug.py'}:Helped"
    suite = write_suite(tiny_suite(seeds=[0], train={"epochs": 1, "batch_size": 128}, regularizers=["erm", spec]))
    store = tmp_path / "s.sqlite"
    forget_plugin_modules()
    cls = lookup(spec)
    found = local_imports(sys.modules[cls.__module__])
    assert set(found) == {"idhelper", "idhelper_lazy"}  # not math, torch or regbench
    assert "idhelper_lazy" not in sys.modules

    def run_and_say() -> str:
        forget_plugin_modules()
        run_cli(suite, store, "--workers", "1")
        return capsys.readouterr().out

    assert "2 runs to do" in run_and_say()
    assert "0 runs to do" in run_and_say()
    (tmp_path / "idhelper.py").write_text("SCALE = 2.0  # edited\n")
    assert "1 runs to do, 1 reused" in run_and_say()  # the plugin's run, not erm's
    db = sqlite3.connect(store)
    helped = db.execute("SELECT COUNT(*) FROM runs WHERE regularizer LIKE '%Helped%'").fetchone()[0]
    db.close()
    assert helped == 2
    (tmp_path / "idhelper_lazy.py").write_text("raise RuntimeError('executed, edited')\n")
    assert "1 runs to do, 1 reused" in run_and_say()  # a lazily imported helper counts too


@pytest.mark.parametrize("name", ["math", "torch", "regbench.harness.plan"])
def test_standard_installed_and_regbench_modules_are_not_local(name):
    from regbench.regularizers.plugins import is_local_source, module_file

    __import__(name)
    assert not is_local_source(name, module_file(name))
