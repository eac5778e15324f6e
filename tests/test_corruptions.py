"""Corruptions (regbench.shifts.corruptions) and the covariate / none shifts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

import regbench.shifts.covariate  # noqa: F401  (registers "covariate")
import regbench.shifts.none  # noqa: F401  (registers "none")
from regbench.data.digits import load_digits
from regbench.registry import UnknownNameError
from regbench.seeding import torch_generator
from regbench.shifts import SHIFTS
from regbench.shifts.corruptions import (
    CORRUPTIONS,
    DATASET_SCALES,
    PARAMS,
    REQUIRES_RGB,
    VALIDATION_CORRUPTIONS,
    corrupt,
    corruption_scale,
    rotate_by,
    severity_table,
)
from regbench.shifts.corruption_names import CORRUPTION_NAMES
from regbench.shifts.covariate import CovariateShift
from regbench.shifts.params.covariate import DEFAULT_CORRUPTIONS
from regbench.shifts.held_out import RULE, held_out_part

SEVERITIES = [1, 2, 3, 4, 5]
# Corruptions that draw from the generator; the others must ignore it.
STOCHASTIC = {"gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "motion_blur", "elastic_transform"}


@pytest.fixture(scope="module")
def digits():
    return load_digits(0)


@pytest.fixture(scope="module")
def images(digits):
    """Both image kinds: real 1×8×8 digits and smooth random 3×32×32 images (natural-ish spectra)."""
    coarse = torch.rand(24, 3, 8, 8, generator=torch_generator("test", "rgb"))
    rgb = F.interpolate(coarse, size=(32, 32), mode="bicubic", align_corners=False).clamp(0, 1)
    return {"digits": digits.parts["test"].x[:200], "rgb": rgb}


def _cases(exclude=()):
    return [
        (name, kind)
        for name in CORRUPTIONS
        for kind in ("digits", "rgb")
        if not (kind == "digits" and name in REQUIRES_RGB) and (name, kind) not in exclude
    ]


def _run(x, name, severity, seed=0):
    return corrupt(x, name, severity, torch_generator("test", name, seed))


@pytest.mark.parametrize("name,kind", _cases())
def test_contract_and_distance_grows_with_severity(images, name, kind):
    x = images[kind]
    before = x.clone()
    dist = []
    for severity in SEVERITIES:
        y = _run(x, name, severity)
        assert y.shape == x.shape and y.dtype == torch.float32
        assert y.min() >= 0 and y.max() <= 1
        dist.append((y - x).abs().mean().item())
    assert torch.equal(x, before), f"{name} modified its input in place"
    assert dist[0] > 0, f"{name} at severity 1 left {kind} unchanged"
    # Rotating texture-like images decorrelates them by ~45° and the zero-filled corners
    # shrink again past 45°, so rotation's growth is checked on digits (and against rot90).
    if (name, kind) != ("rotate", "rgb"):
        assert all(b > a for a, b in zip(dist, dist[1:])), f"{name} on {kind}: {dist}"


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_seeded(images, name):
    x = images["rgb"][:8]
    a, b, other = _run(x, name, 3, seed=0), _run(x, name, 3, seed=0), _run(x, name, 3, seed=1)
    assert torch.equal(a, b)
    if name in STOCHASTIC:
        assert not torch.equal(a, other)
    else:
        assert torch.equal(a, other), f"{name} should not depend on the generator"


@pytest.mark.parametrize("name", list(CORRUPTIONS))
@pytest.mark.parametrize("severity", [0, 6, -1, 2.0, True])
def test_bad_severity_raises(images, name, severity):
    g = torch_generator("test")
    with pytest.raises(ValueError, match="severity must be an int in 1..5"):
        corrupt(images["rgb"][:2], name, severity, g)
    with pytest.raises(ValueError, match="severity"):
        CORRUPTIONS[name](images["rgb"][:2], severity, g)


def test_unknown_name_suggests(images):
    with pytest.raises(UnknownNameError, match="Did you mean: gaussian_noise"):
        corrupt(images["rgb"], "gausian_noise", 1, torch_generator("t"))


def test_bad_input_tensor_raises():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        corrupt(torch.rand(3, 8, 8), "contrast", 1, torch_generator("t"))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        corrupt(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), "contrast", 1, torch_generator("t"))


def test_saturate_refuses_grey(images):
    with pytest.raises(ValueError, match="3-channel"):
        corrupt(images["digits"], "saturate", 1, torch_generator("t"))


def test_table_and_registry_agree():
    assert list(CORRUPTIONS) == list(PARAMS)  # same names, same order: DEFAULT_CORRUPTIONS follows it
    assert tuple(CORRUPTIONS) == CORRUPTION_NAMES  # the names a suite is checked against without torch
    assert all(len(row) == 5 for row in PARAMS.values())
    assert set(VALIDATION_CORRUPTIONS) <= set(CORRUPTIONS)
    assert not set(VALIDATION_CORRUPTIONS) & set(DEFAULT_CORRUPTIONS)


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_non_square_and_single_image(name):
    x = torch.rand(1, 3, 20, 28, generator=torch_generator("test", "odd"))
    assert _run(x, name, 5).shape == x.shape


def test_rotate_is_counter_clockwise_and_exact_at_90():
    x = torch.rand(4, 3, 9, 9, generator=torch_generator("test", "rot"))
    assert torch.allclose(rotate_by(x, 90), torch.rot90(x, 1, dims=(2, 3)), atol=1e-6)  # top row → left
    assert torch.allclose(rotate_by(x, 0), x, atol=1e-6)


def test_photometric_semantics():
    g = torch_generator("t")
    x = torch.rand(16, 3, 12, 12, generator=torch_generator("test", "sem")) * 0.5 + 0.25
    # contrast shrinks deviations by the table's factor and keeps each channel's mean
    y = corrupt(x, "contrast", 2, g)
    assert torch.allclose(y.mean((2, 3)), x.mean((2, 3)), atol=1e-6)
    assert torch.allclose(y - y.mean((2, 3), keepdim=True), 0.5 * (x - x.mean((2, 3), keepdim=True)), atol=1e-6)
    # brightness on grey images is x + c; saturate keeps grey pixels grey
    grey = x[:, :1]
    assert torch.allclose(corrupt(grey, "brightness", 5, g), (grey + 0.3).clamp(0, 1))
    assert torch.allclose(corrupt(grey.expand(-1, 3, -1, -1), "saturate", 5, g), grey.expand(-1, 3, -1, -1))
    # gaussian noise on mid-grey (no clipping) has the table's std
    noisy = corrupt(torch.full((64, 1, 32, 32), 0.5), "gaussian_noise", 5, g)
    assert abs((noisy - 0.5).std().item() - 0.10) < 0.005


# --- covariate and none shifts ---------------------------------------------------------------


def test_covariate_apply_on_digits(digits):
    shift = CovariateShift({"corruptions": ["gaussian_noise", "pixelate"], "severities": [1, 3], "angles": [15, 22.5]})
    splits = shift.apply(digits, seed=0)
    names = {"gaussian_noise/1", "gaussian_noise/3", "pixelate/1", "pixelate/3", "rotate_15", "rotate_22.5"}
    assert set(splits.ood) == names
    assert splits.split_info["pixelate/3"] == {
        "family": "covariate",
        "shift": "pixelate",
        "severity": 3,
        "source": "generated",
        "scale": 1.0,
        "parameter": 0.85,
        "held_out": "shard",  # the covariate family's shard of the held-out images
        "held_out_shard": "covariate",
        "held_out_pool": len(digits.parts["test"]),
        "held_out_rule": RULE,
    }
    assert splits.split_info["gaussian_noise/3"]["scale"] == corruption_scale("digits", "gaussian_noise") > 1
    assert splits.split_info["rotate_22.5"]["angle"] == 22.5
    train, val = digits.parts["train"], digits.parts["val"]
    test = held_out_part(digits.parts["test"], "covariate", 0)[0]
    assert torch.equal(splits.test_id.x, test.x) and splits.train is train and splits.val is val
    for name, split in splits.ood.items():
        assert torch.equal(split.y, test.y) and not torch.equal(split.x, test.x), name
    k = corruption_scale("digits", "gaussian_noise")
    expected = corrupt(test.x, "gaussian_noise", 3, torch_generator(0, "shift", "gaussian_noise", 3), k)
    assert torch.equal(splits.ood["gaussian_noise/3"].x, expected)
    assert splits.split_info["gaussian_noise/3"]["parameter"] == pytest.approx(0.08 * k)
    other = shift.apply(digits, seed=1)
    assert not torch.equal(other.ood["gaussian_noise/1"].x, splits.ood["gaussian_noise/1"].x)


def test_covariate_defaults_work_on_grey_digits(digits):
    splits = SHIFTS.get("covariate")().apply(digits, seed=0)
    assert len(splits.ood) == len(DEFAULT_CORRUPTIONS) * 5
    assert all(info["family"] == "covariate" for info in splits.split_info.values())


def test_covariate_refuses_rgb_only_on_grey(digits):
    with pytest.raises(ValueError, match="saturate.*3-channel.*digits"):
        CovariateShift({"corruptions": ["saturate"]}).apply(digits, seed=0)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"corruptions": ["gausian_noise"]}, "Did you mean: gaussian_noise"),
        ({"severities": [0]}, "greater than or equal to 1"),
        ({"severities": [6]}, "less than or equal to 5"),
        ({"severities": [1, 1]}, "duplicates"),
        ({"angles": [15, 15.0]}, "duplicates"),
        ({"corruptions": [], "angles": None}, "needs corruptions"),
        ({"corruption": ["contrast"]}, "Extra inputs are not permitted"),
    ],
)
def test_covariate_params_errors(params, message):
    with pytest.raises(ValidationError, match=message):
        CovariateShift(params)


def test_none_shift(digits):
    shift = SHIFTS.get("none")()
    splits = shift.apply(digits, seed=0)
    assert shift.family == "none" and splits.ood == {} and splits.test_id is digits.parts["test"]
    assert SHIFTS.get("covariate").family == "covariate"


# --- severity tables scaled to the dataset ---------------------------------------------------


def test_scale_one_is_cifar10c_and_cifar_is_not_rescaled():
    for name in CORRUPTIONS:
        assert severity_table(name) == PARAMS[name]
        assert corruption_scale("cifar10", name) == corruption_scale("cifar10-c", name) == 1.0
    assert "cifar10" not in DATASET_SCALES and "cifar10-c" not in DATASET_SCALES


# rotation by twice the angle is not farther from the image past 90°; its rule is a product
@pytest.mark.parametrize("name,kind", _cases(exclude={("rotate", "rgb"), ("rotate", "digits")}))
def test_a_larger_scale_corrupts_more(images, name, kind):
    x = images[kind]
    g = lambda: torch_generator("test", name)  # noqa: E731  (same draws for both scales)
    mild = (corrupt(x, name, 5, g(), 1.0) - x).abs().mean()
    strong = (corrupt(x, name, 5, g(), 2.0) - x).abs().mean()
    assert strong > mild, name


def test_scaled_tables_stay_valid():
    assert severity_table("contrast", 10.0)[-1] > 0  # a factor never reaches 0 or flips sign
    assert severity_table("impulse_noise", 100.0)[-1] == 0.5  # at most half the values hit
    assert min(severity_table("jpeg_compression", 5.0)) >= 1
    assert severity_table("shot_noise", 2.0)[0] == PARAMS["shot_noise"][0] / 4  # 2x the noise std
    with pytest.raises(ValueError, match="scale must be > 0"):
        severity_table("contrast", 0.0)
    with pytest.raises(UnknownNameError):
        severity_table("fog")


def test_covariate_cifar10c_table_ignores_the_calibration(digits):
    shift = CovariateShift({"corruptions": ["gaussian_noise"], "severities": [5], "severity_table": "cifar10c"})
    splits = shift.apply(digits, seed=0)
    test = held_out_part(digits.parts["test"], "covariate", 0)[0]
    expected = corrupt(test.x, "gaussian_noise", 5, torch_generator(0, "shift", "gaussian_noise", 5))
    assert torch.equal(splits.ood["gaussian_noise/5"].x, expected)
    assert splits.split_info["gaussian_noise/5"]["scale"] == 1.0
    with pytest.raises(ValidationError, match="severity_table"):
        CovariateShift({"severity_table": "imagenet"})


def test_digits_synth_takes_digits_calibration_and_the_table_is_in_the_run_key():
    """digits_synth is in optdigits' 8×8 format: CIFAR-10-C's noise tables barely move it, so it
    uses digits' measured scales; the table is code, so it joins the run key (a recalibration
    must rebuild the splits and retrain, never reuse runs on the old splits)."""
    from regbench.harness.plan import load_suite
    from regbench.shifts.corruptions import corruption_scale

    assert corruption_scale("digits_synth", "gaussian_noise") == corruption_scale("digits", "gaussian_noise") == 4.0
    runs = {r.benchmark.spec.name: r for r in load_suite("ood").runs if r.seed == 0 and r.regularizer.display == "erm"}
    assert runs["digits-c"].canonical["corruption_scales"]["gaussian_noise"] == 4.0
    assert "corruption_scales" not in runs["digits-labelshift"].canonical  # only covariate shifts scale severities
