"""Shared fixtures: an isolated data cache, tiny suites written to tmp_path, a tmp store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("REGBENCH_CACHE", str(Path(__file__).resolve().parent.parent / ".cache" / "test-cache"))
torch_threads = os.environ.get("REGBENCH_TEST_THREADS")


@pytest.fixture(autouse=True)
def cpu_unless_marked_gpu(request, monkeypatch):
    """Pin every test not marked ``gpu`` to the CPU, so the suite passes alike on a GPU host.

    ``--device auto`` (the CLI default) resolves through ``torch.cuda.is_available``, patched
    to False here; worker processes (pool, Ray, Slurm) start from this environment, where no
    GPU is visible. Tests marked ``gpu`` see the machine as it is.
    """
    if request.node.get_closest_marker("gpu") is not None:
        yield
        return
    import torch

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    yield


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """A fresh, empty split cache for one test."""
    root = tmp_path / "cache"
    monkeypatch.setenv("REGBENCH_CACHE", str(root))
    from regbench.harness import run_one as runner

    runner._SPLITS.clear()
    yield root
    runner._SPLITS.clear()


def tiny_suite(**overrides) -> dict:
    """A suite that trains in about a second per run: digits, a small MLP, 2 epochs."""
    suite = {
        "name": "tiny",
        "description": "test suite",
        "seeds": [0, 1],
        "train": {"epochs": 2, "batch_size": 128, "lr": 0.003},
        "benchmarks": [
            {
                "name": "digits-noise",
                "dataset": "digits",
                "model": "mlp",
                "model_args": {"width": 32, "depth": 1},
                "shift": {"kind": "covariate", "corruptions": ["gaussian_noise"], "severities": [2, 5]},
            }
        ],
        "regularizers": ["erm", "label_smoothing"],
    }
    suite.update(overrides)
    return suite


@pytest.fixture
def write_suite(tmp_path):
    """write_suite(dict_or_text, name="tiny.yaml") → path of a suite file in tmp_path."""

    def write(content, name: str = "tiny.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path

    return write


@pytest.fixture
def store_path(tmp_path) -> Path:
    return tmp_path / "results.sqlite"


@pytest.fixture
def one_thread():
    """Tiny models on a busy 2-core machine: one intra-op thread (a second one spin-waits);
    the caller's count is restored after the test. Use with ``pytest.mark.usefixtures``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
