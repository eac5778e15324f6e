"""Hostile or odd input (issue #27): labels that look like markup, terminal escapes, formulas or
Markdown; suite file names that are not one path component; YAML bombs; non-finite data; full
disks; a read-only cache; empty or zero flags and an unusable --out. Each gives the clear
one-line error (or the escaped text), never a traceback, and loses nothing already recorded."""

from __future__ import annotations

import errno
import io
import re
import shutil
import sqlite3

import pytest
import torch
import yaml
from conftest import tiny_suite

from regbench.cli import main
from regbench.report.render.escape import csv_cell, md, plain, terminal

ESC = "\x1b"
LABEL = "=ls [/x] [lam=0.01] tuned \x1b]0;TITLE\x07\x1b[31m ![p](http://a.invalid/d.png) [t](javascript:x)"
CAVEAT = "oops [/oops] here \x1b[2J"


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    """A real store whose second row has a hostile label and whose suite a hostile caveat."""
    root = tmp_path_factory.mktemp("hostile")
    suite = root / "hostile.yaml"
    spec = tiny_suite(
        seeds=[0],
        caveat=CAVEAT,
        regularizers=["erm", {"stack": ["label_smoothing"], "label": LABEL}],
    )
    suite.write_text(yaml.safe_dump(spec, sort_keys=False))
    store = root / "store.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    return suite, store


def test_escape_functions_one_per_format():
    assert terminal("l2 [lam=0.01] [/x]") == "l2 \\[lam=0.01] \\[/x]"
    assert plain("a\x1b[31mb\x9bc\td") == "a\\x1b[31mb\\x9bc\td"
    assert plain("a\tb\nc", one_line=True) == "a b c"
    text = md("x\n# injected heading\n![p](http://a/d.png) [l](javascript:x) [r]: http://a", one_line=False)
    assert "\n\\# injected" in text and re.search(r"(?<!\\)\][(:]", text) is None
    assert md("93.7 [93.1, 94.2]") == "93.7 [93.1, 94.2]"  # intervals stay readable
    assert md("-0.5") == "-0.5" and md("=1") == "=1"
    for lead in "=+-@\t\r":
        assert csv_cell(lead + "SUM(A1)").startswith("'")
    assert csv_cell("l2") == "l2" and csv_cell(-0.5) == -0.5


def test_leaderboard_and_diagnose_show_labels_as_text(hostile_store, tmp_path, capsys):
    suite, store = hostile_store
    out = tmp_path / "lb"
    assert main(["leaderboard", str(suite), "--store", str(store), "--out", str(out), "--reps", "20"]) == 0
    shown = capsys.readouterr().out
    assert "[/oops]" in shown  # the caveat, printed as written (no MarkupError)
    assert ESC not in shown and "\\x1b" in shown
    assert main(["diagnose", str(suite), "--store", str(store), "--out", str(tmp_path / "dg"), "--no-plots"]) == 0
    shown = capsys.readouterr().out
    assert ESC not in shown and "Traceback" not in shown
    for path in [*out.iterdir(), *(tmp_path / "dg").iterdir()]:
        if path.suffix in (".md", ".csv", ".tex", ".html", ".json"):
            text = path.read_text()
            assert ESC not in text and "\x07" not in text, path.name
    readme = (out / "README.md").read_text()
    assert "![p](" not in readme and "[t](javascript" not in readme
    assert "'=ls" in (out / "leaderboard.csv").read_text()
    assert "'=ls" in (tmp_path / "dg" / "diagnostics.csv").read_text()
    assert (
        main(["leaderboard", str(suite), "--store", str(store), "--no-plots", "--format", "csv", "--out", str(out)])
        == 0
    )
    assert "'=ls" in capsys.readouterr().out


def test_terminal_table_keeps_brackets(hostile_store, tmp_path):
    from rich.console import Console

    from regbench.commands.leaderboard import suite_meta
    from regbench.report import build_leaderboard, render_terminal
    from regbench.store import Store

    suite, store = hostile_store
    runs, metrics, rel = Store(str(store), readonly=True).frames("tiny")
    board = build_leaderboard(runs, metrics, rel, suite_meta(str(suite)), tmp_path / "lb", plots=False, reps=20)
    console = Console(width=400, record=True, file=io.StringIO())
    render_terminal(board, console)
    shown = console.export_text()
    assert "[lam=0.01] tuned" in shown and "[/x]" in shown and ESC not in shown


@pytest.mark.parametrize("name", ["...yaml", "sub/..yaml"])
@pytest.mark.parametrize("command", ["leaderboard", "diagnose", "validate"])
def test_suite_file_name_must_be_one_path_component(name, command, tmp_path, monkeypatch, capsys, hostile_store):
    suite, store = hostile_store
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    shutil.copy(suite, tmp_path / name)
    (tmp_path / "leaderboard").mkdir()
    argv = [command, name] + ([] if command == "validate" else ["--store", str(store)])
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "must be one path component" in err and len(err.splitlines()) == 1
    assert list((tmp_path / "leaderboard").iterdir()) == []
    assert not (tmp_path / "README.md").exists() and not (tmp_path / "index.html").exists()


def test_yaml_alias_bomb_and_deep_nesting_are_one_line(write_suite, capsys):
    lines = ["name: bomb", 'a0: &a0 ["xxxxxxxxx"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    lines += ["description: *a8"]
    bomb = write_suite("\n".join(lines) + "\n", "bomb.yaml")
    assert len(bomb.read_bytes()) < 600
    assert main(["validate", str(bomb)]) == 1
    err = capsys.readouterr().err
    assert "aliases" in err and len(err.splitlines()) == 1 and len(err) < 300
    deep = write_suite("name: deep\ndescription: " + "[" * 1000 + "]" * 1000 + "\n", "deep.yaml")
    assert main(["validate", str(deep)]) == 1
    err = capsys.readouterr().err
    assert "nested more than" in err and len(err.splitlines()) == 1
    recursive = write_suite("name: &a [*a]\n", "rec.yaml")
    assert main(["validate", str(recursive)]) == 1
    assert "recursive" in capsys.readouterr().err


def test_non_finite_test_images_fail_the_run_naming_the_split(write_suite, monkeypatch):
    from regbench.harness import run_one as runner
    from regbench.harness.plan import load_suite

    plan = load_suite(write_suite(tiny_suite(seeds=[0], regularizers=["erm"])))
    spec = plan.runs[0]
    real = runner.build_splits

    def poisoned(bench):
        splits = real(bench)
        name, ex = next(iter(splits.test_splits().items()))
        ex.x[:3] = float("inf")  # three images with inf pixels
        poisoned.split = name
        return splits

    monkeypatch.setattr(runner, "build_splits", poisoned)
    runner._SPLITS.clear()
    try:
        rec = runner.run_one(spec, "cpu")
    finally:
        runner._SPLITS.clear()
    assert rec.status == "failed"
    assert f"split '{poisoned.split}'" in rec.error and "inputs hold inf or NaN" in rec.error


def test_full_disk_store_says_disk_full_and_keeps_records(hostile_store, tmp_path):
    from regbench.store import Store, is_store_error, store_error

    _, store = hostile_store
    copy = tmp_path / "s.sqlite"
    shutil.copy(store, copy)
    s = Store(str(copy))
    before = len(s.records())
    pages = s.db.execute("PRAGMA page_count").fetchone()[0]
    s.db.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own SQLITE_FULL, as on a full disk
    entries = [(f"k{i:06d}" * 8, "b" * 200, "r" * 200, i) for i in range(5000)]
    with pytest.raises(sqlite3.Error) as caught:
        s.add_to_suite("big", entries)
    assert is_store_error(caught.value)
    message = str(store_error(copy, caught.value))
    assert "disk full" in message and str(copy) in message and "damaged" not in message
    s.db.close()
    assert len(Store(str(copy), readonly=True).records()) == before


def test_full_checkpoint_folder_skips_the_checkpoint_and_removes_its_temporary_file(tmp_path, monkeypatch, capsys):
    from regbench.train import checkpoint as ck

    folder = tmp_path / "checkpoints"
    saver = ck.Checkpointer(folder / "run.pt", 1, "run")
    state = {"epoch": 1, "rng": {"device_type": "cpu"}, "w": torch.ones(3)}
    saver.save(state)
    real_open = open

    class FullFile:
        def __init__(self, path, mode):
            self.f = real_open(path, mode)

        def write(self, data):
            self.f.write(bytes(data[:10]))  # part of it lands, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(ck, "open", FullFile, raising=False)
    saver.save({**state, "epoch": 2, "w": torch.zeros(3)})  # no exception: the run goes on
    err = capsys.readouterr().err
    assert "disk full" in err and str(folder) in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["run.pt"]  # no temporary file left
    monkeypatch.undo()
    assert saver.load(torch.device("cpu"))["epoch"] == 1  # the previous checkpoint is intact


def test_read_only_cache_is_one_line(tmp_path, monkeypatch):
    from regbench.data import cache
    from regbench.registry import UserError

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(cache.tempfile, "mkdtemp", refuse)
    with pytest.raises(UserError) as caught:
        cache.cached_splits("fp", lambda: object(), root=tmp_path / "ro")
    message = str(caught.value)
    assert "cannot write there" in message and "REGBENCH_CACHE" in message and "\n" not in message


def test_empty_seeds_and_zero_reps_are_command_line_errors(write_suite, store_path, capsys):
    suite = write_suite(tiny_suite())
    with pytest.raises(SystemExit) as caught:
        main(["run", str(suite), "--seeds", ",", "--store", str(store_path)])
    assert caught.value.code == 2
    assert "expected at least one integer" in capsys.readouterr().err
    assert not store_path.exists()  # nothing trained, nothing recorded
    for reps in ("0", "-5"):
        with pytest.raises(SystemExit) as caught:
            main(["leaderboard", str(suite), "--reps", reps, "--store", str(store_path)])
        assert caught.value.code == 2
        assert "--reps: must be >= 1" in capsys.readouterr().err


def test_unusable_out_is_one_line(hostile_store, tmp_path, capsys):
    suite, store = hostile_store
    a_file = tmp_path / "taken"
    a_file.write_text("precious")
    for out, why in ((a_file, "is a file"), (a_file / "sub", "cannot write there")):
        for command in ("leaderboard", "diagnose"):
            assert main([command, str(suite), "--store", str(store), "--out", str(out)]) == 1
            err = capsys.readouterr().err.strip()
            assert why in err and len(err.splitlines()) == 1
    assert a_file.read_text() == "precious"
