"""The example plugins in examples/: public API only, correct penalties, and they train."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from plugin_registry import clean_registry  # noqa: F401  (autouse fixture)
from torch import nn

from regbench.regularizers import REGULARIZERS
from regbench.regularizers.base import Batch
from regbench.regularizers.build import lookup

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PUBLIC = {"Regularizer", "register_regularizer", "Batch", "History", "SetupContext"}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_examples_use_the_public_api_only(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("regbench"):
            assert node.module == "regbench", f"{path.name} imports {node.module}: use `from regbench import ...`"
            assert {a.name for a in node.names} <= PUBLIC
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("regbench") for a in node.names)


def test_spectral_decoupling_is_half_lambda_times_mean_squared_logit_norm():
    cls = lookup(f"{EXAMPLES}/spectral_decoupling.py:SpectralDecoupling")
    assert REGULARIZERS.get("spectral_decoupling") is cls
    logits = torch.tensor([[3.0, 4.0], [0.0, 1.0]], requires_grad=True)  # ‖·‖² = 25 and 1
    pen = cls(lam=0.2).penalty(nn.Identity(), Batch(torch.zeros(2, 1), torch.eye(2), logits))
    assert pen.dim() == 0 and pen.item() == pytest.approx(0.5 * 0.2 * (25 + 1) / 2)
    pen.backward()
    assert torch.allclose(logits.grad, 0.2 * logits.detach() / 2)  # d/dz of λ/2·mean‖z‖² = λ z / B
    assert cls(lam=0.0).penalty(nn.Identity(), Batch(torch.zeros(2, 1), torch.eye(2), logits)).item() == 0.0


def test_input_gradient_penalty_matches_the_closed_form_for_a_linear_model():
    cls = lookup(f"{EXAMPLES}/input_gradient.py:InputGradientPenalty")
    assert cls.needs_input_grad
    torch.manual_seed(0)
    model = nn.Linear(3, 2, bias=False)
    x = torch.randn(4, 3, requires_grad=True)
    y = torch.eye(2)[torch.tensor([0, 1, 1, 0])]
    logits = model(x)
    pen = cls(lam=0.5).penalty(model, Batch(x, y, logits))
    # ∂CE_i/∂x_i = Wᵀ (softmax(z_i) − y_i) for z = W x
    g = (torch.softmax(logits, -1) - y).detach() @ model.weight.detach()
    assert pen.item() == pytest.approx(0.5 * g.pow(2).sum(1).mean().item(), rel=1e-5)
    pen.backward()  # create_graph=True: the penalty itself is differentiable wrt the weights
    assert model.weight.grad is not None and torch.isfinite(model.weight.grad).all()


@pytest.mark.parametrize(
    "spec", ["spectral_decoupling.py:SpectralDecoupling", "input_gradient.py:InputGradientPenalty"]
)
def test_example_plugins_train_through_the_harness(spec, tmp_path):
    from regbench.config import parse_suite
    from regbench.harness.plan import plan_suite
    from regbench.harness.run_one import run_one

    suite = parse_suite(
        {
            "name": "ex",
            "seeds": [0],
            "train": {"epochs": 1, "batch_size": 256},
            "benchmarks": [
                {
                    "name": "d",
                    "dataset": "digits",
                    "model": "cnn",
                    "model_args": {"width": 8},
                    "shift": {"kind": "covariate", "corruptions": ["gaussian_noise"], "severities": [2]},
                }
            ],
            "regularizers": [f"{EXAMPLES}/{spec}"],
        }
    )
    rec = run_one(plan_suite(suite).runs[0])
    assert rec.status == "ok", rec.error
    splits = {m["split"] for m in rec.metrics}
    assert {"val", "test_id"} <= splits and any(s.startswith("ood/") for s in splits)
