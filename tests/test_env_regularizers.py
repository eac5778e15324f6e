"""The distribution-shift baselines: each penalty against a value computed by hand on a tiny batch."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from regbench.models.parts import SequentialClassifier
from regbench.regularizers.base import Batch
from regbench.regularizers.build import lookup

# two environments of four examples each, two classes
LOGITS = torch.tensor(
    [[2.0, -1.0], [0.5, 0.5], [-1.0, 1.5], [0.0, 2.0], [1.0, 0.0], [-0.5, 0.3], [2.5, 1.0], [0.2, -0.2]]
)
LABELS = torch.tensor([0, 1, 1, 0, 0, 1, 1, 1])
ENV = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
Y = torch.eye(2)[LABELS]


# how a penalty finds each environment's rows: boolean masks of Batch.env (a batch made by
# hand), or the trainer's layout (contiguous rows, counts known on the CPU: no device sync)
LAYOUTS = {"masks": {}, "trainer": {"env_ids": (0, 1), "env_counts": (4, 4)}}


def batch(logits=LOGITS, x=None, layout="masks") -> Batch:
    x = LOGITS.clone() if x is None else x
    return Batch(x, Y, logits.clone().requires_grad_(True), ENV, **LAYOUTS[layout])


def ce(logits, labels) -> float:
    """Cross-entropy of a few rows, by hand."""
    return sum(
        math.log(sum(math.exp(v) for v in row)) - row[c] for row, c in zip(logits.tolist(), labels.tolist())
    ) / len(labels)


def scale_grad(logits, labels) -> float:
    """d/dw CE(w·z) at w = 1, by hand: mean_i Σ_k (softmax(z_i)_k − 1[k = y_i]) z_ik."""
    total = 0.0
    for row, c in zip(logits.tolist(), labels.tolist()):
        norm = sum(math.exp(v) for v in row)
        total += sum((math.exp(v) / norm - (k == c)) * v for k, v in enumerate(row))
    return total / len(labels)


def env_rows(e):
    return LOGITS[ENV == e], LABELS[ENV == e]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_irm_penalty_is_the_product_of_half_batch_scale_gradients_and_anneals(layout):
    reg = lookup("irm")(lam=100.0, anneal_iters=1)
    expected = 0.0
    for e in (0, 1):
        z, c = env_rows(e)
        expected += scale_grad(z[0::2], c[0::2]) * scale_grad(z[1::2], c[1::2]) / 2
    first = reg.penalty(nn.Identity(), batch(layout=layout))
    assert first.item() == pytest.approx(expected, rel=1e-5)  # weight 1 before anneal_iters
    assert not reg.resets_optimizer()
    second = reg.penalty(nn.Identity(), batch(layout=layout))
    assert second.item() == pytest.approx(100 * expected, rel=1e-5)
    assert reg.resets_optimizer()  # the step the weight switches on resets Adam …
    reg.penalty(nn.Identity(), batch(layout=layout))
    assert not reg.resets_optimizer()  # … and only that one
    b = batch(layout=layout)
    reg.penalty(nn.Identity(), b).backward()  # differentiable wrt the logits
    assert b.logits.grad is not None and b.logits.grad.abs().sum() > 0


@pytest.mark.parametrize("layout", LAYOUTS)
def test_irm_paper_form_is_the_squared_whole_environment_scale_gradient(layout):
    reg = lookup("irm")(lam=7.0, anneal_iters=0, unbiased=False)
    expected = sum(scale_grad(*env_rows(e)) ** 2 for e in (0, 1)) / 2
    assert reg.penalty(nn.Identity(), batch(layout=layout)).item() == pytest.approx(7 * expected, rel=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_vrex_is_the_variance_of_environment_risks(layout):
    reg = lookup("vrex")(lam=10.0, anneal_iters=0)
    r0, r1 = ce(*env_rows(0)), ce(*env_rows(1))
    assert reg.penalty(nn.Identity(), batch(layout=layout)).item() == pytest.approx(10 * ((r0 - r1) / 2) ** 2, rel=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_group_dro_weights_environments_by_exponentiated_risk(layout):
    eta = 0.5
    reg = lookup("group_dro")(eta=eta)
    r = [ce(*env_rows(0)), ce(*env_rows(1))]
    mean_loss = ce(LOGITS, LABELS)
    q = [math.exp(eta * v) for v in r]
    q = [v / sum(q) for v in q]
    pen = reg.penalty(nn.Identity(), batch(layout=layout))
    # the trainer's loss is the batch mean, so loss + penalty = Σ_e q_e R_e
    assert (mean_loss + pen.item()) == pytest.approx(q[0] * r[0] + q[1] * r[1], rel=1e-5)
    reg.penalty(nn.Identity(), batch(layout=layout))
    q2 = [math.exp(2 * eta * v) for v in r]
    assert reg.state_dict()["_q"].tolist() == pytest.approx([v / sum(q2) for v in q2], rel=1e-5)


def linear_model(d: int = 2, k: int = 2) -> SequentialClassifier:
    """features = the input itself (Flatten), classifier = one Linear layer."""
    torch.manual_seed(0)
    return SequentialClassifier(nn.Flatten(), nn.Linear(d, k))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_coral_is_mean_plus_covariance_distance_of_features(layout):
    model = linear_model()
    reg = lookup("coral")(gamma=2.0)
    a, b = LOGITS[ENV == 0], LOGITS[ENV == 1]  # here the features are the inputs

    def mean_cov(p):
        n = len(p)
        mu = [sum(r[j] for r in p.tolist()) / n for j in range(2)]
        cov = [[sum((r[i] - mu[i]) * (r[j] - mu[j]) for r in p.tolist()) / (n - 1) for j in range(2)] for i in range(2)]
        return mu, cov

    (ma, ca), (mb, cb) = mean_cov(a), mean_cov(b)
    expected = sum((u - v) ** 2 for u, v in zip(ma, mb)) / 2
    expected += sum((ca[i][j] - cb[i][j]) ** 2 for i in range(2) for j in range(2)) / 4
    assert reg.penalty(model, batch(x=LOGITS, layout=layout)).item() == pytest.approx(2 * expected, rel=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_mmd_is_the_gaussian_mixture_kernel_mmd_of_features(layout):
    model = linear_model()
    reg = lookup("mmd")(gamma=1.0)
    a, b = LOGITS[ENV == 0].tolist(), LOGITS[ENV == 1].tolist()

    def k(u, v):
        d2 = sum((s - t) ** 2 for s, t in zip(u, v))
        return sum(math.exp(-g * d2) for g in (0.001, 0.01, 0.1, 1, 10, 100, 1000))

    def mean_k(p, q):
        return sum(k(u, v) for u in p for v in q) / (len(p) * len(q))

    expected = mean_k(a, a) + mean_k(b, b) - 2 * mean_k(a, b)
    x = LOGITS.clone().requires_grad_(True)
    pen = reg.penalty(model, batch(x=x, layout=layout))
    assert pen.item() == pytest.approx(expected, rel=1e-4)
    pen.backward()
    assert torch.isfinite(x.grad).all()  # no NaN from the zero self-distances


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fishr_matches_closed_form_per_example_gradients_of_the_linear_head(layout):
    model = linear_model()
    reg = lookup("fishr")(lam=3.0, anneal_iters=0, ema=0.9)
    x = LOGITS.clone()
    w, bias = model[1].weight.detach(), model[1].bias.detach()
    p = torch.softmax(x @ w.T + bias, dim=1)
    # ∂CE_i/∂W = (p_i − y_i) x_iᵀ, ∂CE_i/∂b = p_i − y_i: (N, K·D + K)
    grads = torch.cat([((p - Y)[:, :, None] * x[:, None, :]).flatten(1), p - Y], dim=1)
    var = [grads[ENV == e].var(0, unbiased=False) for e in (0, 1)]
    mean = (var[0] + var[1]) / 2
    expected = ((var[0] - mean).pow(2).mean() + (var[1] - mean).pow(2).mean()) / 2
    xg = x.clone().requires_grad_(True)
    pen = reg.penalty(model, batch(x=xg, layout=layout))
    # the first EMA step with DomainBed's correction is the variance itself
    assert pen.item() == pytest.approx(3 * expected.item(), rel=1e-4)
    pen.backward()
    assert xg.grad.abs().sum() > 0 and model[1].weight.grad.abs().sum() > 0  # trains features and head
    # a second identical step: m = 0.9·(0.1 v) + 0.1 v → m / 0.1 = 1.9 v
    pen2 = reg.penalty(model, batch(x=x.clone(), layout=layout))
    assert pen2.item() == pytest.approx(3 * 1.9**2 * expected.item(), rel=1e-4)


def test_fishr_weight_is_zero_before_annealing():
    reg = lookup("fishr")(lam=3.0, anneal_iters=5)
    assert reg.penalty(linear_model(), batch(x=LOGITS.clone())).item() == 0.0


def test_spectral_decoupling_is_lambda_times_mean_squared_logit():
    reg = lookup("sd")(lam=0.2)
    assert not reg.needs_envs
    assert reg.penalty(nn.Identity(), batch()).item() == pytest.approx(0.2 * float((LOGITS**2).mean()), rel=1e-6)


@pytest.mark.parametrize("name", ["irm", "vrex", "group_dro", "coral", "mmd", "fishr"])
def test_env_baselines_declare_and_need_environments(name):
    cls = lookup(name)
    assert cls.needs_envs
    with pytest.raises(ValueError, match="env"):
        cls().penalty(linear_model(), Batch(LOGITS.clone(), Y, LOGITS.clone()))


def test_features_split_is_required_with_a_clear_error():
    with pytest.raises(TypeError, match="features"):
        lookup("coral")().penalty(nn.Linear(2, 2), batch(x=LOGITS.clone()))


# a full batch of unequal environments (3 and 5 rows): the trainer lays it out contiguously
UNEQUAL_ENV = torch.tensor([0, 0, 0, 1, 1, 1, 1, 1])
# the same rows interleaved, each environment's rows kept in their order (IRM's halves are
# every other row of an environment): what the masks see
INTERLEAVED = torch.tensor([3, 0, 4, 1, 5, 2, 6, 7])

ENV_BASELINES = [
    ("irm", {"lam": 3.0, "anneal_iters": 0}),
    ("irm", {"lam": 3.0, "anneal_iters": 0, "unbiased": False}),
    ("vrex", {"lam": 3.0, "anneal_iters": 0}),
    ("group_dro", {"eta": 0.5}),
    ("coral", {"gamma": 2.0}),
    ("mmd", {"gamma": 2.0}),
    ("fishr", {"lam": 3.0, "anneal_iters": 0}),
]


@pytest.mark.parametrize(("name", "params"), ENV_BASELINES, ids=lambda v: v if isinstance(v, str) else "")
def test_unequal_contiguous_layout_splits_by_counts_as_the_masks_do(name, params):
    """The slices read from Batch.env_counts (3, 5) hold the rows the masks of Batch.env pick."""
    model = linear_model()
    x = LOGITS.clone()
    trainer = Batch(x, Y, LOGITS.clone(), UNEQUAL_ENV, env_ids=(0, 1), env_counts=(3, 5))
    p = INTERLEAVED
    masked = Batch(x[p], Y[p], LOGITS[p].clone(), UNEQUAL_ENV[p], env_ids=(0, 1))
    a = lookup(name)(**params).penalty(model, trainer)
    b = lookup(name)(**params).penalty(model, masked)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    assert a.item() != 0.0
    # and it is not what an equal split (4, 4) of the same rows gives
    wrong = Batch(x, Y, LOGITS.clone(), UNEQUAL_ENV, env_ids=(0, 1), env_counts=(4, 4))
    assert lookup(name)(**params).penalty(model, wrong).item() != pytest.approx(a.item(), rel=1e-3)


def test_a_layout_that_does_not_fit_the_batch_is_refused_in_one_line():
    bad = Batch(LOGITS.clone(), Y, LOGITS.clone(), ENV, env_ids=(0, 1), env_counts=(4, 3))
    with pytest.raises(ValueError, match=r"env_counts \(4, 3\) do not describe 8 rows of 2 environments") as err:
        lookup("vrex")(anneal_iters=0).penalty(nn.Identity(), bad)
    assert "\n" not in str(err.value)


def test_fishr_closed_form_head_gradients_match_torch_func():
    """A plain Linear head takes the closed form; any other head goes through torch.func: both agree."""
    from regbench.regularizers.fishr import per_example_grads, plain_linear

    head = linear_model()[1]
    wrapped = nn.Sequential(head)  # not a plain Linear: the torch.func path
    assert plain_linear(head) and not plain_linear(wrapped)
    z = LOGITS.clone().requires_grad_(True)
    soft = 0.9 * Y + 0.05  # soft targets (label smoothing), rows summing to 1
    closed, general = per_example_grads(head, z, soft), per_example_grads(wrapped, z, soft)
    assert closed.shape == general.shape == (8, 2 * 2 + 2)
    assert torch.allclose(closed, general, atol=1e-6)
    (gz,) = torch.autograd.grad(closed.pow(2).sum(), z)  # differentiable wrt the features
    assert gz.abs().sum() > 0
