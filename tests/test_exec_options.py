"""A run's intra-op thread count is an execution option: applied by run_one for every
executor, recorded in ``env``, pinned by ``--deterministic`` (issue #12, item 1)."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch
from scaling_helpers import write_suite

from regbench.cli import main
from regbench.train.execution import DETERMINISTIC_THREADS, ExecOptionsError, exec_options


def _env_threads(store) -> list[int]:
    db = sqlite3.connect(store)
    out = [json.loads(e)["threads"] for (e,) in db.execute("SELECT env FROM runs")]
    db.close()
    return out


def test_threads_flag_is_applied_recorded_and_the_callers_count_restored(tmp_path):
    suite = write_suite(tmp_path, epochs=1, regularizers=["erm"])
    store = tmp_path / "s.sqlite"
    before = torch.get_num_threads()
    other = 3 if before != 3 else 2
    assert (
        main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress", "--threads", str(other)])
        == 0
    )
    assert _env_threads(store) == [other]
    assert torch.get_num_threads() == before  # the in-process run did not leave its count behind


def test_default_and_deterministic_thread_counts():
    assert exec_options().threads == 1
    assert exec_options(threads=4).threads == 4
    assert exec_options(deterministic=True).threads == DETERMINISTIC_THREADS
    assert exec_options(deterministic=True, threads=DETERMINISTIC_THREADS).threads == DETERMINISTIC_THREADS


@pytest.mark.parametrize(("extra", "needle"), [(["--threads", "0"], "--threads must be >= 1"),
                                               (["--deterministic", "--threads", "4"], "pins --threads to 1")])  # fmt: skip
def test_bad_thread_options_are_one_line_and_train_nothing(tmp_path, capsys, extra, needle):
    suite = write_suite(tmp_path, epochs=1, regularizers=["erm"])
    store = tmp_path / "s.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress", *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    with pytest.raises(ExecOptionsError):
        exec_options(threads=0)
    assert not store.exists() or not sqlite3.connect(store).execute("SELECT count(*) FROM runs").fetchone()[0]
