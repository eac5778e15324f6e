"""A run's intra-op thread count is an execution option: applied by run_one for every
executor, recorded in ``env``, pinned by ``--deterministic`` (issue #12, item 1)."""

from __future__ import annotations

import json
import os
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


def test_cublas_workspace_is_set_for_the_process_and_a_users_value_is_kept(monkeypatch):
    from regbench.train.execution import CUBLAS_WORKSPACE, prepare_process

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    prepare_process()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    prepare_process()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_deterministic_mode_on_cuda_restricts_attention_to_the_math_backend_for_the_run():
    """The flash and memory-efficient backwards keep non-deterministic kernels under warn_only."""
    from regbench.train.execution import kernel_mode

    backends = torch.backends.cuda
    before = (backends.flash_sdp_enabled(), backends.mem_efficient_sdp_enabled(), backends.math_sdp_enabled())
    with kernel_mode(torch.device("cuda"), deterministic=True):
        assert (backends.flash_sdp_enabled(), backends.mem_efficient_sdp_enabled()) == (False, False)
        assert backends.math_sdp_enabled() and torch.are_deterministic_algorithms_enabled()
    assert (backends.flash_sdp_enabled(), backends.mem_efficient_sdp_enabled(), backends.math_sdp_enabled()) == before
    with kernel_mode(torch.device("cuda"), deterministic=False):
        assert backends.flash_sdp_enabled() == before[0]  # only deterministic runs give up the fast kernels
    with kernel_mode(torch.device("cpu"), deterministic=True):
        assert backends.flash_sdp_enabled() == before[0]  # CPU numbers unchanged
