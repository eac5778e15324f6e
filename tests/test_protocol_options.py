"""The published protocols' options (IRM, V-REx, Fishr, l2, the mlp's init and head), each
against a value computed by hand on a tiny batch; each option's default is DomainBed's."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from test_env_regularizers import ENV, LABELS, LAYOUTS, LOGITS, Y, batch, ce, env_rows, linear_model, scale_grad
from torch import nn

from regbench.models.mlp import SingleLogitHead, mlp
from regbench.models.parts import SequentialClassifier
from regbench.regularizers.base import Batch, soft_cross_entropy
from regbench.regularizers.build import lookup
from regbench.regularizers.stack import Stack


def paper_irm(lam: float, anneal_iters: int):
    return lookup("irm")(lam=lam, anneal_iters=anneal_iters, unbiased=False, anneal_handling="paper")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_irm_paper_handling_never_resets_and_divides_the_gradient_by_lambda_after_the_switch(layout):
    lam = 50.0
    model = linear_model()
    reg = paper_irm(lam, anneal_iters=1)

    def step():
        """One step's total loss (data loss + penalty) backpropagated, then the hook: the gradients."""
        model.zero_grad()
        x = LOGITS.clone()
        logits = model(x)
        b = Batch(x, Y, logits, ENV, **LAYOUTS[layout])
        total = soft_cross_entropy(logits, Y) + reg.penalty(model, b)
        total.backward()
        reg.after_backward(model)
        return total.detach(), [p.grad.clone() for p in model.parameters()]

    def plain_grads(scale: float):
        """Autograd of (data loss + scale · paper penalty) / max(scale, 1) on the same weights."""
        model.zero_grad()
        logits = model(LOGITS.clone())
        pen = torch.stack([g.mean().pow(2) for g in _env_scale_grads(logits)]).mean()
        total = (soft_cross_entropy(logits, Y) + scale * pen) / max(scale, 1.0)
        total.backward()
        return [p.grad.clone() for p in model.parameters()]

    before_total, before = step()
    assert not reg.resets_optimizer()
    for got, want in zip(before, plain_grads(1.0)):  # weight 1 before the switch: nothing divided
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-7)
    after_total, after = step()
    assert not reg.resets_optimizer()  # the paper keeps Adam's moments at the switch
    for got, want in zip(after, plain_grads(lam)):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-7)  # the whole loss divided by λ
    # the recorded penalty is undivided (λ · penalty): only the update is rescaled
    logits = model(LOGITS.clone())
    fresh = paper_irm(lam, anneal_iters=0).penalty(model, Batch(LOGITS, Y, logits, ENV))
    assert fresh.item() == pytest.approx(lam * _hand_paper_irm(logits.detach()), rel=1e-5)
    assert after_total.item() > before_total.item()


def _env_scale_grads(logits: torch.Tensor) -> list[torch.Tensor]:
    """Each environment's per-example ∂CE(w·z)/∂w at w = 1, differentiable (reference)."""
    out = []
    for e in (0, 1):
        z, y = logits[ENV == e], Y[ENV == e]
        w = torch.ones(len(z), 1, requires_grad=True)
        risk = -(y * torch.log_softmax(z * w, dim=-1)).sum()
        out.append(torch.autograd.grad(risk, w, create_graph=True)[0].squeeze(1))
    return out


def _hand_paper_irm(logits: torch.Tensor) -> float:
    return sum(scale_grad(logits[ENV == e], LABELS[ENV == e]) ** 2 for e in (0, 1)) / 2


def test_irm_penalty_value_with_paper_handling_is_the_paper_form():
    reg = paper_irm(7.0, anneal_iters=0)
    expected = sum(scale_grad(*env_rows(e)) ** 2 for e in (0, 1)) / 2
    assert reg.penalty(nn.Identity(), batch()).item() == pytest.approx(7 * expected, rel=1e-5)


def test_domainbed_handling_is_the_default_resets_once_and_leaves_gradients_alone():
    reg = lookup("irm")(lam=100.0, anneal_iters=1)
    assert reg.anneal_handling == "domainbed"
    model = linear_model()
    for expect_reset in (False, True, False):
        model.zero_grad()
        logits = model(LOGITS.clone())
        total = soft_cross_entropy(logits, Y) + reg.penalty(model, Batch(LOGITS, Y, logits, ENV))
        total.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        reg.after_backward(model)
        assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters()))
        assert reg.resets_optimizer() is expect_reset


def test_paper_handling_does_not_divide_when_lambda_is_at_most_one():
    reg = lookup("vrex")(lam=0.5, anneal_iters=0, anneal_handling="paper")
    model = linear_model()
    logits = model(LOGITS.clone())
    (soft_cross_entropy(logits, Y) + reg.penalty(model, Batch(LOGITS, Y, logits, ENV))).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    reg.after_backward(model)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters()))  # main.py: only if weight > 1


def test_paper_handling_reaches_the_trainer_through_the_stack():
    stack = Stack([lookup("l2")(lam=0.1), paper_irm(10.0, anneal_iters=0)])
    assert stack.has("after_backward") and not stack.resets_optimizer()
    model = linear_model()
    logits = model(LOGITS.clone())
    b = Batch(LOGITS, Y, logits, ENV)
    (soft_cross_entropy(logits, Y) + stack.penalty(model, b)).backward()
    raw = [p.grad.clone() for p in model.parameters()]
    stack.after_backward(model)
    assert all(torch.allclose(p.grad, g / 10.0) for g, p in zip(raw, model.parameters()))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_vrex_squared_difference_is_the_rex_scripts_form_four_times_the_variance(layout):
    r0, r1 = ce(*env_rows(0)), ce(*env_rows(1))
    squared = lookup("vrex")(lam=10.0, anneal_iters=0, form="squared_difference")
    variance = lookup("vrex")(lam=10.0, anneal_iters=0)
    got = squared.penalty(nn.Identity(), batch(layout=layout)).item()
    assert got == pytest.approx(10 * (r0 - r1) ** 2, rel=1e-5)
    assert got == pytest.approx(4 * variance.penalty(nn.Identity(), batch(layout=layout)).item(), rel=1e-5)


def test_vrex_squared_difference_refuses_other_than_two_environments():
    reg = lookup("vrex")(lam=1.0, anneal_iters=0, form="squared_difference")
    three = Batch(LOGITS, Y, LOGITS.clone(), torch.tensor([0, 0, 1, 1, 2, 2, 2, 2]))
    with pytest.raises(ValueError, match="2 environments; got 3"):
        reg.penalty(nn.Identity(), three)


def _fishr_variances(model: SequentialClassifier) -> tuple[torch.Tensor, torch.Tensor]:
    """Each environment's biased variance of the head's per-example CE gradients, by hand: (P,) each."""
    x = LOGITS.clone()
    w, bias = model[1].weight.detach(), model[1].bias.detach()
    p = torch.softmax(x @ w.T + bias, dim=1)
    grads = torch.cat([((p - Y)[:, :, None] * x[:, None, :]).flatten(1), p - Y], dim=1)  # (N, K·D + K)
    v0, v1 = (grads[ENV == e].var(0, unbiased=False) for e in (0, 1))
    return v0, v1


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fishr_sum_reduction_sums_over_coordinates_and_environments_without_ema(layout):
    model = linear_model()
    v0, v1 = _fishr_variances(model)
    mean = (v0 + v1) / 2
    expected = float((v0 - mean).pow(2).sum() + (v1 - mean).pow(2).sum())
    reg = lookup("fishr")(lam=3.0, anneal_iters=0, ema=0.0, reduction="sum")
    first = reg.penalty(model, batch(x=LOGITS.clone(), layout=layout)).item()
    assert first == pytest.approx(3 * expected, rel=1e-4)
    # no moving average: an identical second step gives the same value (ema 0.95 would not)
    assert reg.penalty(model, batch(x=LOGITS.clone(), layout=layout)).item() == pytest.approx(first, rel=1e-6)
    # P · E times the default mean reduction: 6 coordinates, 2 environments
    mean_reg = lookup("fishr")(lam=3.0, anneal_iters=0, ema=0.0)
    assert first == pytest.approx(12 * mean_reg.penalty(model, batch(x=LOGITS.clone())).item(), rel=1e-5)


def test_fishr_weight_before_anneal_is_an_option_default_zero():
    model = linear_model()
    v0, v1 = _fishr_variances(model)
    mean = (v0 + v1) / 2
    expected = float(((v0 - mean).pow(2).mean() + (v1 - mean).pow(2).mean()) / 2)
    assert lookup("fishr")(lam=3.0, anneal_iters=5).penalty(model, batch(x=LOGITS.clone())).item() == 0.0
    script = lookup("fishr")(lam=3.0, anneal_iters=1, ema=0.0, weight_before_anneal=1.0, anneal_handling="paper")
    assert script.penalty(model, batch(x=LOGITS.clone())).item() == pytest.approx(expected, rel=1e-4)
    assert not script.resets_optimizer()
    assert script.penalty(model, batch(x=LOGITS.clone())).item() == pytest.approx(3 * expected, rel=1e-4)
    assert not script.resets_optimizer()


def test_l2_include_biases_sums_every_parameter():
    model = linear_model()
    w, b = model[1].weight.detach(), model[1].bias.detach()
    weights_only = 0.5 * sum(v**2 for v in w.flatten().tolist())
    everything = weights_only + 0.5 * sum(v**2 for v in b.flatten().tolist())
    assert lookup("l2")(lam=0.5).penalty(model, batch()).item() == pytest.approx(weights_only, rel=1e-6)
    got = lookup("l2")(lam=0.5, include_biases=True).penalty(model, batch()).item()
    assert got == pytest.approx(everything, rel=1e-6) and got > weights_only


def test_mlp_xavier_init_zeroes_biases_and_bounds_weights_by_fan():
    torch.manual_seed(0)
    model = mlp((2, 14, 14), 2, width=64, init="xavier")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3
    for lin in linears:
        fan_out, fan_in = lin.weight.shape
        bound = math.sqrt(6 / (fan_in + fan_out))  # Glorot & Bengio's uniform limit
        assert torch.count_nonzero(lin.bias) == 0
        top = float(lin.weight.detach().abs().max())
        assert 0.9 * bound < top <= bound
    torch.manual_seed(0)
    default = mlp((2, 14, 14), 2, width=64)
    assert all(torch.count_nonzero(m.bias) > 0 for m in default.modules() if isinstance(m, nn.Linear))


def test_mlp_default_is_unchanged_bit_for_bit():
    torch.manual_seed(3)
    built = mlp((1, 8, 8), 10, width=16, depth=2)
    torch.manual_seed(3)
    by_hand = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Identity(), nn.ReLU())
    by_hand.extend([nn.Linear(16, 16), nn.Identity(), nn.ReLU(), nn.Linear(16, 10)])
    assert [n for n, _ in built.named_parameters()] == [n for n, _ in by_hand.named_parameters()]
    assert all(torch.equal(a, b) for a, b in zip(built.parameters(), by_hand.parameters()))


def test_single_logit_head_gives_logits_zero_z_and_the_loss_is_bce_with_logits():
    torch.manual_seed(0)
    model = mlp((2, 4, 4), 2, width=8, head="single_logit", init="xavier")
    assert isinstance(model.classifier, SingleLogitHead) and model.classifier.linear.out_features == 1
    x = torch.rand(6, 2, 4, 4)
    y = torch.tensor([0, 1, 1, 0, 1, 0])
    logits = model(x)  # (B, 2)
    z = model.classifier.linear(model.features(x)).squeeze(1)
    assert logits.shape == (6, 2) and torch.equal(logits[:, 0], torch.zeros(6)) and torch.equal(logits[:, 1], z)
    assert soft_cross_entropy(logits, torch.eye(2)[y]).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(z, y.float()).item(), rel=1e-6
    )
    assert torch.equal(logits.argmax(1), (z > 0).long())  # the paper's accuracy rule, logits > 0
    with pytest.raises(ValueError, match="for 2 classes"):
        mlp((2, 4, 4), 3, head="single_logit")


def test_irm_on_a_single_logit_head_is_the_papers_penalty_on_z():
    z = torch.tensor([1.5, -0.3, 0.8, -2.0, 0.1, 0.7, -1.2, 2.2])
    logits = torch.stack([torch.zeros_like(z), z], dim=1)
    yb = LABELS.float()
    # main.py's penalty by hand: (d/dw mean BCE(w·z, y) at w = 1)² = (mean_i (σ(z_i) − y_i) z_i)²
    hand = []
    for e in (0, 1):
        rows = [(zi, yi) for zi, yi, ei in zip(z.tolist(), yb.tolist(), ENV.tolist()) if ei == e]
        hand.append((sum((1 / (1 + math.exp(-zi)) - yi) * zi for zi, yi in rows) / len(rows)) ** 2)
    reg = paper_irm(1.0, anneal_iters=0)
    assert reg.penalty(nn.Identity(), Batch(LOGITS, Y, logits, ENV)).item() == pytest.approx(sum(hand) / 2, rel=1e-5)


def test_fishr_on_a_single_logit_head_uses_the_bce_gradients_of_the_one_logit():
    torch.manual_seed(0)
    model = SequentialClassifier(nn.Flatten(), SingleLogitHead(2))
    x = LOGITS.clone()
    w, b = model[1].linear.weight.detach(), model[1].linear.bias.detach()
    delta = torch.sigmoid(x @ w.T + b).squeeze(1) - LABELS.float()  # ∂BCE_i/∂z_i
    grads = torch.cat([delta[:, None] * x, delta[:, None]], dim=1)  # (N, D + 1): the script's BackPACK grads
    v0, v1 = (grads[ENV == e].var(0, unbiased=False) for e in (0, 1))
    mean = (v0 + v1) / 2
    expected = float((v0 - mean).pow(2).sum() + (v1 - mean).pow(2).sum())
    reg = lookup("fishr")(lam=2.0, anneal_iters=0, ema=0.0, reduction="sum")
    assert reg.penalty(model, batch(x=x)).item() == pytest.approx(2 * expected, rel=1e-4)
