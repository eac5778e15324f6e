"""The post-training sharpness of every classification run (regbench/evaluate/sharpness.py).

Against a hand computation on a tiny linear model (in one batch and in several), leaving the
model as it found it (weights, BatchNorm statistics, ``.grad``, train/eval mode, the global
random state), leaving every other metric of a run identical, and giving SAM and ASAM a
mechanism verdict against erm's.
"""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
import torch
import yaml
from measurement_helpers import assert_leaves_model_as_found
from scaling_helpers import metric_rows
from torch import nn

from regbench.cli import main
from regbench.evaluate import curvature, sharpness
from regbench.evaluate.sharpness import METRIC, loss_rise
from regbench.report.mechanism import mechanism_table

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: tiny models, one thread


def tiny_batch(n: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.randn(n, 1, 2, 2, generator=g), torch.arange(n) % 3


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3))


def by_hand(model: nn.Module, x: torch.Tensor, y: torch.Tensor, rho: float) -> float:
    """L(w + ρ g/‖g‖) − L(w) for the linear model, written out: logits = x W^T + b."""
    w = model[1].weight.detach().clone().requires_grad_(True)
    b = model[1].bias.detach().clone().requires_grad_(True)

    def loss(w, b):
        logits = x.flatten(1) @ w.T + b
        return -torch.log_softmax(logits, 1)[torch.arange(len(y)), y].mean()

    at_w = loss(w, b)
    gw, gb = torch.autograd.grad(at_w, (w, b))
    norm = torch.sqrt((gw**2).sum() + (gb**2).sum())
    with torch.no_grad():
        return float(loss(w + rho * gw / norm, b + rho * gb / norm) - at_w)


@pytest.mark.parametrize("batch", [None, 2], ids=["one batch", "batches of 2"])
def test_loss_rise_matches_a_hand_computation(batch, monkeypatch):
    if batch:  # 7 examples in batches of 2: the gradient and both losses are accumulated
        monkeypatch.setattr(sharpness, "eval_batch_size", lambda model, x: batch)
    model, (x, y) = linear_model(), tiny_batch()
    for rho in (0.05, 0.5):
        expected = by_hand(model, x, y, rho)
        assert expected > 0
        assert loss_rise(model, x, y, rho) == pytest.approx(expected, rel=1e-5)


def test_the_measurement_leaves_the_model_and_the_random_state_as_they_were():
    assert_leaves_model_as_found(loss_rise)  # dropout is off in eval mode: no draw


def test_a_zero_gradient_gives_no_rise():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    nn.init.zeros_(model[1].weight)
    nn.init.zeros_(model[1].bias)
    x = torch.zeros(6, 1, 2, 2)
    y = torch.tensor([0, 1, 2, 0, 1, 2])  # balanced: the gradient of the bias is 0 too
    assert loss_rise(model, x, y) == 0.0


def _suite(tmp_path, regularizers, model_args, epochs: int = 6, lr: float = 3e-3) -> str:
    suite = {
        "name": "sharpness-tiny",
        "seeds": [0],
        "train": {"epochs": epochs, "batch_size": 64, "lr": lr},
        "benchmarks": [
            {
                "name": "digits-small",
                "dataset": "digits",
                "dataset_args": {"test_fraction": 0.6},
                "model": "cnn",
                "model_args": model_args,
                "shift": {"kind": "covariate", "corruptions": ["gaussian_noise"], "severities": [3]},
            }
        ],
        "regularizers": regularizers,
    }
    path = tmp_path / "sharpness-tiny.yaml"
    path.write_text(yaml.safe_dump(suite))
    return str(path)


def test_every_other_metric_is_identical_with_and_without_it(tmp_path, monkeypatch):
    """Measured first in the evaluation (regbench/evaluate/classify.py), so a weight, a BN
    statistic or a random draw it left changed would move the numbers computed after it."""
    suite = _suite(tmp_path, ["erm", "dropout"], {"width": 8, "depth": 2, "norm": "batch", "dropout": 0.3})
    args = ["run", suite, "--workers", "1", "--threads", "1", "--no-progress"]
    assert main([*args, "--store", str(tmp_path / "with.sqlite")]) == 0
    monkeypatch.setattr(sharpness, "reference_sharpness", lambda *a: float("nan"))
    monkeypatch.setattr(curvature, "reference_curvature", lambda *a: float("nan"))
    assert main([*args, "--store", str(tmp_path / "without.sqlite")]) == 0

    def rows(name: str) -> list[tuple]:
        return [r for r in metric_rows(tmp_path / name) if METRIC not in r and curvature.METRIC not in r]

    with_it = metric_rows(tmp_path / "with.sqlite")
    assert sum(METRIC in r for r in with_it) == 2  # one per run
    assert sum(curvature.METRIC in r for r in with_it) == 1  # erm's run only: dropout does not read it
    assert rows("with.sqlite") == rows("without.sqlite") and len(rows("with.sqlite")) > 50


def test_sam_and_asam_get_a_verdict_against_erm(tmp_path):
    """A small CNN trained to 100% train accuracy: SAM and ASAM end with a lower top Hessian
    eigenvalue than erm's, the number their mechanism verdict reads."""
    suite = _suite(tmp_path, ["erm", "sam", "asam"], {"width": 8, "depth": 2}, epochs=30, lr=1e-2)
    store = tmp_path / "s.sqlite"
    assert main(["run", suite, "--store", str(store), "--workers", "1", "--threads", "1", "--no-progress"]) == 0
    with sqlite3.connect(store) as db:
        runs = pd.read_sql("SELECT run_key, benchmark, regularizer, regularizer_kind, status, seed FROM runs", db)
        metrics = pd.read_sql("SELECT run_key, split, metric, value FROM metrics", db)
    assert set(runs["status"]) == {"ok"}
    table = mechanism_table(runs, metrics).set_index("regularizer")
    assert sorted(table.index) == ["asam", "sam"]
    for reg in ("sam", "asam"):
        row = table.loc[reg]
        assert row["mechanism"] == "top Hessian eigenvalue" and row["erm_value"] > 0
        assert row["value"] < row["erm_value"] and not row["inactive"]  # flatter than erm: acts
