"""The small ViT: shapes, configurations, validation and that it learns."""

import pytest
import torch

from regbench.catalog import registries
from regbench.models import MODEL_MODULES
from regbench.models.vit import vit


def test_registered_and_listed():
    assert "regbench.models.vit" in MODEL_MODULES
    assert registries()["models"].get("vit") is vit


@pytest.mark.parametrize("shape, patch", [((1, 8, 8), 2), ((3, 16, 16), 4), ((3, 32, 32), 8)])
@pytest.mark.parametrize("norm", ["layer", "rms"])
@pytest.mark.parametrize("prenorm", [True, False])
def test_logits_shape(shape, patch, norm, prenorm):
    torch.manual_seed(0)
    m = vit(shape, 7, patch=patch, width=16, depth=2, heads=2, dropout=0.1, norm=norm, prenorm=prenorm)
    out = m(torch.rand(3, *shape))
    assert out.shape == (3, 7) and torch.isfinite(out).all()


def test_norm_choice_and_pre_post_norm_change_the_model():
    a = vit((1, 8, 8), 10, norm="rms")
    b = vit((1, 8, 8), 10, norm="layer", prenorm=False)
    assert any(isinstance(x, torch.nn.RMSNorm) for x in a.modules())
    assert not any(isinstance(x, torch.nn.RMSNorm) for x in b.modules())
    assert isinstance(b.norm, torch.nn.Identity) and not isinstance(a.norm, torch.nn.Identity)


def test_dropout_only_in_train_mode():
    m = vit((1, 8, 8), 10, dropout=0.5)
    x = torch.rand(4, 1, 8, 8)
    m.eval()
    assert torch.equal(m(x), m(x))
    m.train()
    assert not torch.equal(m(x), m(x))


def test_learns_a_small_batch():
    torch.manual_seed(0)
    m = vit((1, 8, 8), 4, width=32, depth=1, heads=4)
    x, y = torch.rand(32, 1, 8, 8), torch.arange(32) % 4
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"patch": 3}, "not a multiple of patch"),
        ({"width": 30, "heads": 4}, "divisible by heads"),
        ({"depth": 0}, "must be ≥ 1"),
    ],
)
def test_bad_configuration_is_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vit((1, 8, 8), 10, **kwargs)


def test_inductive_bias_models_have_comparable_size():
    from regbench.harness.plan import load_suite

    plan = load_suite("inductive_bias")
    counts = {}
    for r in plan.runs:
        b = r.benchmark
        m = registries()["models"].get(b.spec.model)((1, 8, 8), 10, **b.model_args)
        counts[b.spec.model] = sum(p.numel() for p in m.parameters())
    assert set(counts) == {"mlp", "cnn", "vit"}
    assert max(counts.values()) < 1.5 * min(counts.values()), counts
