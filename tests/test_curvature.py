"""The top Hessian eigenvalue, SAM's and ASAM's mechanism number (regbench/evaluate/curvature.py).

Against the eigenvalues of the full Hessian written out by torch.autograd.functional on a tiny
linear model (in one batch and in several), leaving the model and the random state as they
were, and recorded only for the rows that read it.
"""

from __future__ import annotations

import pytest
import torch
from measurement_helpers import assert_leaves_model_as_found
from torch import nn

from regbench.evaluate import curvature
from regbench.evaluate.curvature import measured_for, top_eigenvalue

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: tiny models, one thread


def tiny_batch(n: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return torch.randn(n, 1, 2, 2, generator=g) * 2, torch.arange(n) % 3


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3))


def full_hessian_eigenvalues(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Every eigenvalue of the (15, 15) Hessian of the mean cross-entropy in (W, b), written out."""
    w0, b0 = model[1].weight.detach(), model[1].bias.detach()

    def loss(flat: torch.Tensor) -> torch.Tensor:
        w, b = flat[:12].view(3, 4), flat[12:]
        logits = x.flatten(1).double() @ w.T + b
        return -torch.log_softmax(logits, 1)[torch.arange(len(y)), y].mean()

    h = torch.autograd.functional.hessian(loss, torch.cat([w0.flatten(), b0]).double())
    return torch.linalg.eigvalsh(h)


@pytest.mark.parametrize("batch", [None, 2], ids=["one batch", "batches of 2"])
def test_the_top_eigenvalue_matches_the_written_out_hessian(batch, monkeypatch):
    if batch:  # 9 examples in batches of 2: the Hessian-vector products are summed over batches
        monkeypatch.setattr(curvature, "eval_batch_size", lambda model, x: batch)
    model, (x, y) = linear_model(), tiny_batch()
    eigenvalues = full_hessian_eigenvalues(model, x, y)
    top = float(eigenvalues[-1])
    assert top > 0 and top > 1.5 * float(eigenvalues[-2])  # a clear gap: power iteration converges
    assert top_eigenvalue(model, x, y, iterations=200) == pytest.approx(top, rel=1e-4)
    assert top_eigenvalue(model, x, y) == pytest.approx(top, rel=0.02)  # the default 20 steps


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_one_gradient_graph_reused_gives_the_recomputed_numbers_bit_for_bit(norm):
    """The one-batch path builds the gradient graph once and differentiates it 20 times; the
    published runs recomputed the forward and the first backward each time: the same value."""
    from regbench.models.cnn import cnn

    torch.manual_seed(2)
    model = cnn((1, 8, 8), 10, width=8, norm=norm)
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    params = [p for p in model.parameters() if p.requires_grad]
    model.eval()
    gen = torch.Generator().manual_seed(curvature.START_SEED)
    v = curvature._normalized([torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params])
    value = 0.0
    for _ in range(curvature.ITERATIONS):  # the recomputing loop, one batch of all 64
        hv = curvature._hessian_vector_product(model, params, x, y, v, len(x))
        value = float(sum((h * u).sum() for h, u in zip(hv, v)))
        v = curvature._normalized(hv)
    model.train()
    assert top_eigenvalue(model, x, y) == value
    assert model.training  # left as it was


def test_the_measurement_leaves_the_model_and_the_random_state_as_they_were():
    value = assert_leaves_model_as_found(top_eigenvalue)  # its start vector has its own generator
    assert assert_leaves_model_as_found(top_eigenvalue) == value  # a fixed start: the same number


def test_it_is_recorded_for_erm_and_the_sharpness_rows_only():
    """The row kinds whose mechanism reads it (harness/applicability.py's kinds)."""
    assert measured_for("baseline") and measured_for("sharpness")
    for kind in ("none", "penalty", "augmentation", "averaging", "recipe", None):
        assert not measured_for(kind)


def test_attention_models_are_measured_on_the_math_kernel():
    """The fused scaled-dot-product kernels have no double backward; the ViT's number is finite."""
    from regbench.data.base import DatasetInfo
    from regbench.models import build_model

    torch.manual_seed(0)
    model = build_model("vit", DatasetInfo(name="d", num_classes=3, input_shape=(1, 8, 8)), width=16, depth=2)
    x, y = torch.randn(12, 1, 8, 8), torch.arange(12) % 3
    value = top_eigenvalue(model, x, y, iterations=3)
    assert value == value and value > 0


def test_an_op_without_a_second_derivative_gives_nan_not_a_failed_run(monkeypatch):
    """What torch raises for such an op (as the fused attention kernels did): NaN, so the
    mechanism gives no verdict; any other error still fails the run."""

    def no_double_backward(*args, **kwargs):
        raise RuntimeError("derivative for aten::_some_fused_kernel_backward is not implemented")

    model, (x, y) = linear_model(), tiny_batch()
    monkeypatch.setattr(curvature, "_graph_product", no_double_backward)  # both paths differentiate here
    value = top_eigenvalue(model, x, y)
    assert value != value and model.training

    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(curvature, "_graph_product", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        top_eigenvalue(model, x, y)
