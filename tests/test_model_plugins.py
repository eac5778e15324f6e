"""A model of your own: ``model: file.py:Net`` (docs/plugins.md, Your own model)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from regbench.cli import main
from regbench.harness.plan import load_suite
from regbench.models import build_model, lookup_model

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "mnist_cnn.py"

TINY_NET = '''
import torch
from torch import nn


class TinyNet(nn.Module):
    """A linear model on flattened inputs: (B, *input_shape) -> (B, num_classes)."""

    def __init__(self, input_shape, num_classes, hidden: int = 8):
        super().__init__()
        size = 1
        for n in input_shape:
            size *= n
        self.classifier = nn.Linear(hidden, num_classes)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(size, hidden), nn.ReLU())

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.classifier(self.features(x))
'''


def write_model(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "tiny_net.py"
    path.write_text(TINY_NET + extra)
    return path


def write_suite(tmp_path: Path, model: str, model_args: dict | None = None) -> Path:
    suite = {
        "name": "own_model",
        "seeds": [0],
        "train": {"epochs": 1, "batch_size": 64},
        "benchmarks": [
            {"name": "d", "dataset": "digits", "model": model, "model_args": model_args or {}, "shift": "none"}
        ],
        "regularizers": ["erm", "l2"],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def recorded(store: Path) -> list[tuple]:
    db = sqlite3.connect(store)
    rows = db.execute("SELECT status, json_extract(spec, '$.model_code') FROM runs ORDER BY run_key").fetchall()
    db.close()
    return rows


def test_the_example_is_domainbeds_mnist_cnn():
    net = lookup_model(f"{EXAMPLE}:MNISTCNN")((2, 28, 28), 2)
    assert sum(p.numel() for p in net.parameters()) == 371_394  # DomainBed's MNIST_CNN + Linear(128, 2)
    x = __import__("torch").zeros(3, 2, 28, 28)
    assert net.features(x).shape == (3, 128) and net(x).shape == (3, 2)


def test_validate_accepts_a_model_plugin(tmp_path, capsys):
    suite = write_suite(tmp_path, f"{EXAMPLE}:MNISTCNN", {"groups": 4})
    assert main(["validate", str(suite)]) == 0
    assert "unknown model" not in capsys.readouterr().err


def test_a_bad_model_args_key_is_one_line(tmp_path, capsys):
    suite = write_suite(tmp_path, f"{EXAMPLE}:MNISTCNN", {"grups": 4})
    assert main(["validate", str(suite)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "benchmarks[0].model_args.grups" in err and "Did you mean: groups" in err


@pytest.mark.parametrize(
    "name, message",
    [
        ("{d}/tiny_net.py:Nope", "has no name 'Nope'; it defines: TinyNet"),
        ("{d}/tiny_net.py:SIZE", "is not a model builder (it is a int)"),
        ("{d}/missing.py:Net", "plugin file '{d}/missing.py' not found"),
        ("mlpp", "unknown model 'mlpp'. Did you mean: mlp"),
    ],
)
def test_each_model_plugin_failure_is_one_line(tmp_path, capsys, name, message):
    write_model(tmp_path, "\nSIZE = 3\n")
    suite = write_suite(tmp_path, name.format(d=tmp_path))
    assert main(["validate", str(suite)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message.format(d=tmp_path) in err


def test_the_model_args_reach_the_builder(tmp_path):
    from regbench.data.base import DatasetInfo

    info = DatasetInfo(name="t", num_classes=3, input_shape=(1, 4, 4))
    net = build_model(f"{write_model(tmp_path)}:TinyNet", info, hidden=5)
    assert net.classifier.in_features == 5


def test_a_model_plugin_runs_in_a_pool_of_two_workers(tmp_path):
    suite = write_suite(tmp_path, f"{write_model(tmp_path)}:TinyNet", {"hidden": 4})
    store = tmp_path / "s.sqlite"
    assert (
        main(["run", str(suite), "--store", str(store), "--workers", "2", "--run-timeout", "300", "--no-progress"]) == 0
    )
    rows = recorded(store)
    assert [s for s, _ in rows] == ["ok", "ok"]
    assert all(code and code.startswith("sha256:") for _, code in rows)


def test_the_example_mnist_cnn_runs_in_a_pool_of_two_workers(tmp_path):
    suite = write_suite(tmp_path, f"{EXAMPLE}:MNISTCNN")
    store = tmp_path / "s.sqlite"
    assert (
        main(["run", str(suite), "--store", str(store), "--workers", "2", "--run-timeout", "300", "--no-progress"]) == 0
    )
    rows = recorded(store)
    assert [s for s, _ in rows] == ["ok", "ok"]
    assert all(code and code.startswith("sha256:") for _, code in rows)


def test_editing_the_model_plugin_retrains_and_keeps_the_old_runs(tmp_path):
    model = tmp_path / "mnist_cnn.py"
    model.write_text(EXAMPLE.read_text())
    suite = write_suite(tmp_path, f"{model}:MNISTCNN")
    store = tmp_path / "s.sqlite"
    run = ["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]
    assert main(run) == 0
    first = recorded(store)
    assert main(run) == 0
    assert recorded(store) == first  # unchanged code: the recorded runs are reused, nothing retrains
    model.write_text(EXAMPLE.read_text().replace("GROUPS = 8", "GROUPS = 4"))
    assert main(run) == 0
    rows = recorded(store)
    assert len(rows) == 4 and [s for s, _ in rows] == ["ok"] * 4  # two new runs trained beside the two old
    assert len({code for _, code in rows}) == 2


def test_editing_the_model_plugin_changes_its_run_keys(tmp_path):
    model = write_model(tmp_path)
    suite = write_suite(tmp_path, f"{model}:TinyNet")
    before = {r.run_key for r in load_suite(suite).runs}
    model.write_text(TINY_NET + "\n# an edit\n")
    after = {r.run_key for r in load_suite(suite).runs}
    assert before.isdisjoint(after)


def test_a_helper_module_the_plugin_imports_is_in_its_code_identity(tmp_path, monkeypatch):
    (tmp_path / "tp_width_helper.py").write_text("HIDDEN = 8\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    model = write_model(tmp_path, "\nimport tp_width_helper\n")
    suite = write_suite(tmp_path, f"{model}:TinyNet")
    before = load_suite(suite).runs[0].benchmark.model_code
    (tmp_path / "tp_width_helper.py").write_text("HIDDEN = 16\n")
    assert load_suite(suite).runs[0].benchmark.model_code != before


def test_a_built_in_model_has_no_code_entry_in_its_run_key(tmp_path):
    suite = write_suite(tmp_path, "mlp")
    assert all("model_code" not in r.canonical for r in load_suite(suite).runs)
