"""Augmentation and mixing regularizers: contracts, per-sample randomness, exact semantics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from regbench.regularizers import REGULARIZERS, mix  # noqa: F401 — importing registers
from regbench.regularizers.augment import (
    _autoaugment_table,
    _randaugment_table,
    _tv_auto_augment,
    apply_actions,
    apply_actions_grouped,
    apply_actions_masked,
    apply_color_jitter,
)
from regbench.regularizers.base import SetupContext

AUGMENTATIONS = ["crop_flip", "color_jitter", "randaugment", "autoaugment", "mixup", "cutmix", "mixup_cutmix"]
SHAPES = [(1, 8, 8), (3, 12, 12)]


def make(name: str, shape=(1, 8, 8), flip_invariant: bool = True, **params):
    r = REGULARIZERS.get(name)(**params)
    r.setup(SetupContext(num_classes=10, input_shape=shape, flip_invariant=flip_invariant, epochs=1))
    return r


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(shape, b: int = 16, k: int = 10, seed: int = 0):
    g = gen(seed)
    x = torch.rand((b, *shape), generator=g)
    y = torch.nn.functional.one_hot(torch.randint(k, (b,), generator=g), k).float()
    return x, y


def same_images(shape=(1, 8, 8), b: int = 64):
    """b copies of one asymmetric random image (B, C, H, W), with one-hot targets of 10 classes."""
    x0 = torch.rand(shape, generator=gen(1))
    return x0.expand(b, *shape).clone(), torch.eye(10)[torch.arange(b) % 10]


def n_distinct(x: torch.Tensor) -> int:
    return len(torch.unique(x.flatten(1), dim=0))


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_registered_as_augmentation(name):
    assert REGULARIZERS.get(name).kind == "augmentation"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_contract_shape_range_determinism(name, shape):
    r = make(name, shape)
    x, y = batch(shape)
    x_in, y_in = x.clone(), y.clone()
    xa, ya = r.transform(x, y, gen(7))
    assert xa.shape == x.shape and xa.dtype == x.dtype and ya.shape == y.shape
    assert xa.min() >= 0 and xa.max() <= 1
    torch.testing.assert_close(ya.sum(1), torch.ones(len(y)))
    assert torch.equal(x, x_in) and torch.equal(y, y_in), "inputs must not be modified in place"
    xb, yb = r.transform(x, y, gen(7))
    assert torch.equal(xa, xb) and torch.equal(ya, yb), "same seed must give the same batch"
    xc, yc = r.transform(x, y, gen(8))
    assert not (torch.equal(xa, xc) and torch.equal(ya, yc)), "another seed must give another batch"


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_global_rngs_untouched(name):
    r, (x, y) = make(name), batch((1, 8, 8))
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    r.transform(x, y, gen(0))
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["crop_flip", "color_jitter", "randaugment", "autoaugment"])
def test_per_sample_randomness(name, shape):
    x, y = same_images(shape)
    out, _ = make(name, shape).transform(x, y, gen(0))
    # v2 on a batch gives exactly 1 distinct output here (docs/architecture.md, Measured here: Augmentation).
    assert n_distinct(out) > 8


def crops(x0: torch.Tensor, p: int, mode: str = "constant") -> torch.Tensor:
    """All (2p+1)² pure translations of x0 (C, H, W) after padding: (N, C, H, W)."""
    h, w = x0.shape[-2:]
    xp = torch.nn.functional.pad(x0[None], (p, p, p, p), mode=mode)[0]
    return torch.stack([xp[:, i : i + h, j : j + w] for i in range(2 * p + 1) for j in range(2 * p + 1)])


def match(out: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """(B,) bool: out[i] equals one of the candidates exactly."""
    return (out[:, None] == candidates[None]).flatten(2).all(-1).any(-1)


@pytest.mark.parametrize("flip_invariant", [False, True])
def test_crop_flip_translations_and_flip_only_where_invariant(flip_invariant):
    x, y = same_images((1, 8, 8))
    out, _ = make("crop_flip", flip_invariant=flip_invariant).transform(x, y, gen(0))
    plain, mirrored = crops(x[0], 1), crops(x[0].flip(-1), 1)
    assert (match(out, plain) | match(out, mirrored)).all()
    if flip_invariant:
        assert match(out, mirrored).sum() > 8 and match(out, plain).sum() > 8
    else:
        assert not match(out, mirrored).any(), "digits must never be mirrored"
        assert match(out, plain).all()


def test_crop_flip_padding_scales_with_size_and_reflect_mode():
    x, y = same_images((3, 32, 32), b=128)
    out, _ = make("crop_flip", (3, 32, 32), flip_invariant=False).transform(x, y, gen(0))
    assert match(out, crops(x[0], 4)).all() and not match(out, crops(x[0], 1)).all()
    x8, y8 = same_images()
    out, _ = make("crop_flip", padding=2, padding_mode="reflect", flip_invariant=False).transform(x8, y8, gen(0))
    assert match(out, crops(x8[0], 2, "reflect")).all()


def test_crop_flip_zero_padding_is_identity_without_flip():
    x, y = batch((1, 8, 8))
    out, _ = make("crop_flip", padding=0, flip_invariant=False).transform(x, y, gen(0))
    assert torch.equal(out, x)


def test_crop_flip_needs_setup():
    x, y = batch((1, 8, 8))
    with pytest.raises(RuntimeError, match="setup"):
        REGULARIZERS.get("crop_flip")().transform(x, y, gen(0))


@pytest.mark.parametrize("shape", [(1, 6, 6), (3, 6, 6)])
def test_color_jitter_matches_torchvision_per_image(shape):
    from torchvision.transforms.v2 import functional as TF

    r = make("color_jitter", shape, brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2)
    x, _ = batch(shape, b=6)
    params = r.make_params(6, gen(3), x.device)
    out = apply_color_jitter(x, params)
    for i in range(6):
        ref = TF.adjust_brightness(x[i], float(params["brightness"][i]))
        ref = TF.adjust_contrast(ref, float(params["contrast"][i]))
        ref = TF.adjust_saturation(ref, float(params["saturation"][i]))
        ref = TF.adjust_hue(ref, float(params["hue"][i]))
        torch.testing.assert_close(out[i], ref, atol=1e-5, rtol=0)


def test_color_jitter_zero_strength_is_identity():
    x, y = batch((3, 8, 8))
    out, _ = make("color_jitter", brightness=0, contrast=0, saturation=0, hue=0).transform(x, y, gen(0))
    assert torch.equal(out, x)


def test_grouped_ops_equal_torchvision_per_image():
    tv = _tv_auto_augment()
    table, _ = _randaugment_table(15, 8, 8)
    x, _ = batch((1, 8, 8), b=48)
    action = torch.randint(-1, len(table.actions), (48,), generator=gen(2))
    out = apply_actions(x, action, table.actions)
    for i, a in enumerate(action.tolist()):
        name, mag = table.actions[a] if a >= 0 else ("Identity", 0.0)
        ref = tv._apply_image_or_video_transform(x[i : i + 1], name, mag, interpolation=tv.interpolation, fill=tv._fill)
        torch.testing.assert_close(out[i : i + 1], ref, atol=1e-6, rtol=0)  # batched float sums


def test_float_ops_agree_with_uint8_ops_on_grey_8x8():
    """Posterize/Solarize/Equalize etc. on float [0, 1] match the uint8 definitions up to rounding."""
    tv = _tv_auto_augment()
    x8 = (torch.randint(0, 17, (32, 1, 8, 8), generator=gen(0)) * 255 // 16).to(torch.uint8)
    actions = _randaugment_table(9, 8, 8)[0].actions + _randaugment_table(30, 8, 8)[0].actions
    actions += _autoaugment_table("cifar10", 8, 8)[0].actions
    for name, mag in actions:
        kw = {"interpolation": tv.interpolation, "fill": tv._fill}
        a = tv._apply_image_or_video_transform(x8.float() / 255, name, mag, **kw)
        b = tv._apply_image_or_video_transform(x8, name, mag, **kw).float() / 255
        assert (a - b).abs().max() <= 1.5 / 255, (name, mag)


def test_randaugment_zero_ops_is_identity():
    x, y = batch((1, 8, 8))
    assert torch.equal(make("randaugment", num_ops=0).transform(x, y, gen(0))[0], x)


def test_randaugment_magnitude_zero_leaves_only_magnitude_free_ops():
    """At magnitude 0 every signed op is the identity; the others are as torchvision defines them."""
    from torchvision.transforms.v2 import functional as TF

    x, y = batch((1, 8, 8), b=64)
    out, _ = make("randaugment", num_ops=1, magnitude=0).transform(x, y, gen(0))
    options = torch.stack([x, TF.posterize(x, 8), TF.solarize(x, 1.0), TF.autocontrast(x), TF.equalize(x)], 1)
    assert (out[:, None] == options).flatten(2).all(-1).any(-1).all()
    assert (out == x).flatten(1).all(1).float().mean() > 0.5  # 10 of 14 ops are the identity


def one_hot_constants(b: int = 64):
    """Image i is constant c_i (distinct), target i is one-hot of class i (K = B)."""
    c = torch.linspace(0.0, 1.0, b)
    return c.view(b, 1, 1, 1).expand(b, 1, 8, 8).clone(), torch.eye(b), c


def partners(y_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """From mixed one-hot-of-own-index targets: (own weight, partner index) per row."""
    own = y_out.diagonal()
    other = y_out - torch.diag(own)
    return own, torch.where(other.sum(1) > 0, other.argmax(1), torch.arange(len(y_out)))


@pytest.mark.parametrize("name", ["mixup", "mixup_cutmix"])
def test_mixup_weight_equals_pixel_proportion(name):
    x, y, c = one_hot_constants()
    params = {"switch_prob": 0.0} if name == "mixup_cutmix" else {}
    out, y_out = make(name, **params).transform(x, y, gen(0))
    lam, j = partners(y_out)
    expected = lam * c + (1 - lam) * c[j]
    torch.testing.assert_close(out, expected.view(-1, 1, 1, 1).expand_as(out), atol=1e-6, rtol=0)
    assert len(torch.unique(lam[j != torch.arange(64)])) > 32, "λ must be drawn per sample"


@pytest.mark.parametrize("name", ["cutmix", "mixup_cutmix"])
def test_cutmix_weight_equals_area_and_box_is_rectangle(name):
    x, y, c = one_hot_constants()
    params = {"switch_prob": 1.0} if name == "mixup_cutmix" else {}
    out, y_out = make(name, **params).transform(x, y, gen(0))
    lam, j = partners(y_out)
    for i in range(64):
        if j[i] == i:
            assert torch.equal(out[i], x[i])
            continue
        pasted = out[i, 0] == c[j[i]]
        assert ((out[i, 0] == c[i]) | pasted).all()
        torch.testing.assert_close(1 - pasted.float().mean(), lam[i])
        rows, cols = pasted.any(1), pasted.any(0)
        assert torch.equal(pasted, rows[:, None] & cols[None, :]), "the pasted region must be a box"
    assert len(torch.unique(lam)) > 8, "boxes must be drawn per sample"


def test_mixup_cutmix_switches_per_sample():
    x, y, _ = one_hot_constants()
    out, _ = make("mixup_cutmix").transform(x, y, gen(0))
    n_values = torch.tensor([len(torch.unique(o)) for o in out])
    assert (n_values == 2).sum() > 8 and (n_values == 1).sum() > 8  # cutmix: two values; mixup: one


def test_mixup_tiny_alpha_keeps_image_label_pairs():
    x, y = batch((1, 8, 8), b=32)
    out, y_out = make("mixup", alpha=1e-6).transform(x, y, gen(0))
    for i in range(32):
        k = [k for k in range(32) if torch.equal(out[i], x[k])]
        assert k and torch.equal(y_out[i], y[k[0]])


def test_beta_is_seeded_and_in_range():
    from regbench.regularizers.mix import beta

    a, b = beta(gen(0), 0.2, 1000, "cpu"), beta(gen(0), 0.2, 1000, "cpu")
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert abs(a.mean().item() - 0.5) < 0.05  # Beta(α, α) is symmetric


BAD_PARAMS = [
    ("crop_flip", {"padding": -1}, "padding"),
    ("crop_flip", {"padding_mode": "wrap"}, "padding_mode"),
    ("color_jitter", {"brightness": -0.1}, "brightness"),
    ("color_jitter", {"hue": 0.6}, "hue"),
    ("randaugment", {"magnitude": 31}, "magnitude"),
    ("randaugment", {"num_ops": -1}, "num_ops"),
    ("autoaugment", {"policy": "cifar"}, "policy"),
    ("mixup", {"alpha": 0.0}, "alpha"),
    ("cutmix", {"alpha": -1.0}, "alpha"),
    ("mixup_cutmix", {"switch_prob": 1.5}, "switch_prob"),
]


@pytest.mark.parametrize(("name", "params", "field"), BAD_PARAMS)
def test_bad_parameters_raise_at_setup(name, params, field):
    with pytest.raises(ValueError, match=f"{name}: {field}"):
        make(name, **params)


@pytest.mark.parametrize(
    ("name", "params"), [("autoaugment", {"policy": "cifar"}), ("crop_flip", {"padding_mode": "x"})]
)
def test_string_choices_are_checked_from_the_signature(name, params):
    from pydantic import ValidationError

    from regbench.params import resolve_params

    with pytest.raises(ValidationError, match=next(iter(params))):
        resolve_params(REGULARIZERS.get(name), params)


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_bad_inputs_raise_clear_errors(name):
    r = make(name)
    x, y = batch((1, 8, 8))
    with pytest.raises(ValueError, match="float (images|inputs) of shape"):
        r.transform((x * 255).to(torch.uint8), y, gen(0))
    if name == "mixup":  # a blend needs no pixels: (B, 1, L) waveforms and other batches are mixed too
        assert r.transform(x[:, 0], y, gen(0))[0].shape == x[:, 0].shape
    else:
        with pytest.raises(ValueError, match="float images of shape"):
            r.transform(x[:, 0], y, gen(0))
    if name.startswith(("mix", "cut")):
        with pytest.raises(ValueError, match="soft targets"):
            r.transform(x, y.argmax(1), gen(0))


@pytest.mark.parametrize("interpolation", [None, "bilinear"])
def test_masked_ops_equal_grouped_ops(interpolation):
    """The GPU path (batched warp for shears/translations/rotations, one call per op family
    with per-sample magnitudes) gives the CPU path's images up to float rounding."""
    from torchvision.transforms import InterpolationMode

    from regbench.regularizers.trivialaugment import _trivialaugment_table

    mode = InterpolationMode(interpolation) if interpolation else None
    for shape in ((1, 8, 8), (3, 12, 10)):
        x, _ = batch(shape, b=300)
        tables = (_randaugment_table(15, *shape[1:])[0], _autoaugment_table("svhn", *shape[1:])[0])
        for table in (*tables, _trivialaugment_table(31, *shape[1:])[0]):
            action = torch.randint(-1, len(table.actions), (300,), generator=gen(3))
            grouped = apply_actions_grouped(x, action, table.actions, mode)
            torch.testing.assert_close(apply_actions_masked(x, action, table.actions, mode), grouped, atol=1e-6, rtol=0)
