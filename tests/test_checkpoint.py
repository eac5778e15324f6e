"""In-run checkpoints: a run killed after a checkpoint resumes and records exactly the metrics
of an uninterrupted run (CPU, deterministic); checkpoints go away once the run is recorded."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import torch
from scaling_helpers import metric_rows, statuses, write_suite

from regbench.cli import main
from regbench.train.checkpoint import CRASH_ENV, FORMAT, Checkpointer


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted runs (2 seeds, no checkpoints)."""
    tmp = tmp_path_factory.mktemp("ref")
    suite = write_suite(tmp, seeds=(0, 1))
    store = tmp / "ref.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress", "--deterministic"]) == 0
    return suite, store


def _timings(store):
    db = sqlite3.connect(store)
    out = {k: json.loads(t) for k, t in db.execute("SELECT run_key, timings FROM runs")}
    db.close()
    return out


def test_crash_after_checkpoint_resumes_with_identical_metrics(reference, tmp_path, monkeypatch):
    suite, ref_store = reference
    store = tmp_path / "s.sqlite"
    ckpt_dir = tmp_path / "checkpoints"
    args = [
        "run",
        str(suite),
        "--store",
        str(store),
        "--workers",
        "1",
        "--no-progress",
        "--deterministic",
        "--checkpoint-every",
        "1",
        "--seeds",
        "0",
    ]
    monkeypatch.setenv(CRASH_ENV, f"2:{tmp_path / 'crashed'}:raise")
    assert main(args) == 1  # a planned run failed: the exit status says so
    ((key, status),) = statuses(store).items()
    assert status == "failed"  # the crash is recorded as a failure …
    assert (ckpt_dir / f"{key}.pt").exists()  # … and its epoch-2 checkpoint is kept for the retry
    assert main(args) == 0  # the marker exists now: no second crash
    assert statuses(store) == {key: "ok"}
    assert _timings(store)[key]["resumed_from_epoch"] == 2
    assert not (ckpt_dir / f"{key}.pt").exists()  # deleted once recorded
    ref = [r for r in metric_rows(ref_store) if r[0] == key]
    assert ref and metric_rows(store) == ref  # same run key (option not in it) and same metrics


def test_worker_killed_by_sigkill_resumes_through_the_process_pool(reference, tmp_path, monkeypatch):
    """The realistic case: a worker process dies (SIGKILL) right after writing a checkpoint."""
    suite, ref_store = reference
    store = tmp_path / "s.sqlite"
    args = [
        "run",
        str(suite),
        "--store",
        str(store),
        "--workers",
        "2",
        "--no-progress",
        "--deterministic",
        "--checkpoint-every",
        "1",
    ]
    monkeypatch.setenv(CRASH_ENV, f"2:{tmp_path / 'killed'}")
    assert main(args) == 1  # the killed worker's run failed: the exit status says so
    st = statuses(store)
    assert sorted(st.values()) == ["failed", "ok"]  # one worker was killed, the other run went on
    killed = next(k for k, s in st.items() if s == "failed")
    assert main(args) == 0
    assert set(statuses(store).values()) == {"ok"}
    assert _timings(store)[killed]["resumed_from_epoch"] == 2
    assert metric_rows(store) == metric_rows(ref_store)
    assert not list((tmp_path / "checkpoints").glob("*"))


def test_unreadable_checkpoint_is_ignored_and_the_run_starts_over(reference, tmp_path, capsys):
    suite, ref_store = reference
    store = tmp_path / "s.sqlite"
    key = sqlite3.connect(ref_store).execute("SELECT run_key FROM runs WHERE seed=0").fetchone()[0]
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / f"{key}.pt").write_bytes(b"not a checkpoint")
    args = [
        "run",
        str(suite),
        "--store",
        str(store),
        "--workers",
        "1",
        "--no-progress",
        "--deterministic",
        "--checkpoint-every",
        "2",
        "--seeds",
        "0",
    ]
    assert main(args) == 0
    assert "ignoring unreadable checkpoint" in capsys.readouterr().err
    assert "resumed_from_epoch" not in _timings(store)[key]
    assert metric_rows(store) == [r for r in metric_rows(ref_store) if r[0] == key]


def test_suite_level_checkpoint_every_is_used_and_flag_is_validated(tmp_path, monkeypatch):
    suite = write_suite(tmp_path, name="ck", checkpoint_every=1)
    store = tmp_path / "s.sqlite"
    monkeypatch.setenv(CRASH_ENV, f"1:{tmp_path / 'crashed'}:raise")
    # the injected crash fails the run (exit 1) after its epoch-1 checkpoint was saved
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 1
    assert list((tmp_path / "checkpoints").glob("*.pt"))  # the suite's checkpoint_every: 1 applied
    assert main(["run", str(suite), "--store", str(store), "--checkpoint-every", "-1"]) == 1


class _Planted:
    """Unpickling this object would create ``marker``: a stand-in for arbitrary code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _run_seed0(suite, store):
    return main(
        ["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress", "--deterministic",
         "--checkpoint-every", "2", "--seeds", "0"]
    )  # fmt: skip


def test_a_planted_checkpoint_with_a_pickled_object_runs_no_code(reference, tmp_path, capsys):
    """The checkpoint path is predictable; loading is weights-only, so nothing in it executes."""
    suite, ref_store = reference
    key = sqlite3.connect(ref_store).execute("SELECT run_key FROM runs WHERE seed=0").fetchone()[0]
    marker = tmp_path / "code-ran"
    (tmp_path / "checkpoints").mkdir()
    torch.save(
        {"format": FORMAT, "run_key": key, "epoch": 2, "payload": _Planted(marker)},
        tmp_path / "checkpoints" / f"{key}.pt",
    )
    store = tmp_path / "s.sqlite"
    assert _run_seed0(suite, store) == 0
    assert not marker.exists()  # the pickled call was never made
    err = capsys.readouterr().err
    assert "ignoring unreadable checkpoint" in err and len([ln for ln in err.splitlines() if "warning" in ln]) == 1
    assert statuses(store) == {key: "ok"} and "resumed_from_epoch" not in _timings(store)[key]
    assert metric_rows(store) == [r for r in metric_rows(ref_store) if r[0] == key]  # started over


def test_a_checkpoint_from_another_device_type_starts_the_run_over_with_one_warning(reference, tmp_path, capsys):
    suite, ref_store = reference
    key = sqlite3.connect(ref_store).execute("SELECT run_key FROM runs WHERE seed=0").fetchone()[0]
    store = tmp_path / "s.sqlite"
    ckpt = Checkpointer(tmp_path / "checkpoints" / f"{key}.pt", 2, key)
    # what a CUDA run writes: a 16-byte CUDA generator state that no CPU generator accepts
    cuda_rng = {"device_type": "cuda", "torch": torch.get_rng_state(), "cuda": torch.zeros(16, dtype=torch.uint8)}
    ckpt.save({"epoch": 2, "rng": {**cuda_rng, "order": cuda_rng["cuda"], "augment": cuda_rng["cuda"]}})
    assert _run_seed0(suite, store) == 0
    err = capsys.readouterr().err
    assert f"checkpoint {key}.pt was written on cuda, this run is on cpu; starting the run over" in err
    assert statuses(store) == {key: "ok"} and "resumed_from_epoch" not in _timings(store)[key]
    assert metric_rows(store) == [r for r in metric_rows(ref_store) if r[0] == key]
    assert _run_seed0(suite, store) == 0 and statuses(store) == {key: "ok"}  # recorded once, not retried forever


def test_everything_a_checkpoint_holds_loads_weights_only(tmp_path):
    """Every regularizer's state after setup, RNG states and history pass weights_only loading."""
    from regbench.catalog import registries
    from regbench.regularizers.base import History, SetupContext
    from regbench.train.checkpoint import history_state, rng_states

    state = {"members": []}
    for name, cls in registries()["regularizers"].items():
        try:
            r = cls()
        except TypeError:  # needs parameters (recipes of others): covered through its members
            continue
        r.setup(SetupContext(4, (3, 8, 8), True, 2, "t", "cpu"))
        state["members"].append({name: r.state_dict()})
    g = torch.Generator()
    ckpt = Checkpointer(tmp_path / "c.pt", 1, "k")
    ckpt.save({"epoch": 1, "stack": state, "rng": rng_states(g, g, torch.device("cpu")),
               "history": history_state(History([1.0], [2.0], [0.5], [0.25]))})  # fmt: skip
    loaded = ckpt.load(torch.device("cpu"))
    assert loaded is not None and loaded["history"]["val_accuracy"] == [0.5]
    assert len(loaded["stack"]["members"]) == len(state["members"]) > 5
