"""Spurious colour (ColoredMNIST-style): agreement rates, groups, painting on digits and shapes."""

import math

import pytest
import torch
from pydantic import ValidationError

import regbench.shifts.spurious  # noqa: F401  (registers "spurious")
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.digits import load_digits
from regbench.data.shapes import SHAPES, load_shapes
from regbench.shifts import SHIFTS
from regbench.shifts.held_out import held_out_part
from regbench.shifts.spurious import palette

# split_info entries become keyword arguments of the evaluator's rows: these names would clash.
RESERVED = {"split", "metric", "value", "n"}


@pytest.fixture(scope="module")
def digits():
    return load_digits(0)


@pytest.fixture(scope="module")
def shapes():
    return load_shapes(0, n=1200)


def within_sampling_error(rate: float, rho: float, n: int) -> bool:
    return abs(rate - rho) <= 4 * math.sqrt(rho * (1 - rho) / n) + 1e-9


def test_digits_agreement_rates_groups_and_pixels(digits):
    splits = SHIFTS.get("spurious")({"train_agreement": 0.8, "test_agreement": 0.1}).apply(digits, seed=0)
    k = digits.info.num_classes
    rgb = palette(k, "foreground")
    assert set(splits.ood) == {"agreement_0.1"} and splits.info.input_shape == (3, 8, 8)
    named = {"train": splits.train, "val": splits.val, **splits.test_splits()}
    expected_rho = {"train": 0.8, "val": 0.8, "test_id": 0.8, "ood/agreement_0.1": 0.1}
    for name, ex in named.items():
        colour, y = ex.meta["colour"], ex.y
        rate = float((colour == y).double().mean())
        assert within_sampling_error(rate, expected_rho[name], len(ex)), (name, rate)
        assert torch.equal(ex.meta["group"], y * k + colour)
        assert ex.x.shape[1] == 3
        # The recorded colour is the one painted: x = grey · rgb[colour] on every channel.
        # the test splits are the spurious family's shard of the held-out images (shifts/held_out.py)
        shard = held_out_part(digits.parts["test"], "spurious", 0)[0]
        grey = {"train": digits.parts["train"], "val": digits.parts["val"]}.get(name, shard).x
        assert torch.allclose(ex.x, grey * rgb[colour].view(-1, 3, 1, 1))
        # A disagreeing colour is any of the K - 1 others, about uniformly.
        others = (colour - y) % k
        others = others[others != 0]
        # checked on train, the largest part (~200 disagreeing colours; the OOD split is the
        # spurious shard of 113 images, too few for a tight uniformity bound); the same code paints both
        if name == "train":
            counts = torch.bincount(others, minlength=k)[1:].double()
            assert counts.min() > 0.5 * counts.mean()
    info = splits.split_info
    assert not any(RESERVED & v.keys() for v in info.values())
    assert info["agreement_0.1"]["agreement"] == 0.1 and info["test_id"]["agreement"] == 0.8
    assert info["test_id"]["train_agreement_achieved"] == pytest.approx(
        float((splits.train.meta["colour"] == splits.train.y).double().mean())
    )
    assert info["agreement_0.1"]["agreement_achieved"] == pytest.approx(
        float((splits.ood["agreement_0.1"].meta["colour"] == splits.ood["agreement_0.1"].y).double().mean())
    )


def test_digits_background_nuisance_keeps_white_strokes(digits):
    splits = SHIFTS.get("spurious")({"nuisance": "background"}).apply(digits, seed=1)
    grey = digits.parts["train"].x
    rgb = palette(10, "background")[splits.train.meta["colour"]].view(-1, 3, 1, 1)
    assert torch.allclose(splits.train.x, grey + (1 - grey) * rgb)
    stroke = grey.expand(-1, 3, -1, -1) == 1
    assert torch.all(splits.train.x[stroke] == 1)


def test_shapes_re_rendered_with_the_nuisance_colour(shapes):
    for nuisance in ("background", "foreground"):
        splits = SHIFTS.get("spurious")({"nuisance": nuisance, "train_agreement": 1.0, "test_agreement": 0.0}).apply(
            shapes, seed=0
        )
        rgb = palette(len(SHAPES), nuisance)
        train, ood = splits.train, splits.ood["agreement_0"]
        assert torch.equal(train.meta["colour"], train.y)  # ρ = 1: always the class colour
        assert not torch.any(ood.meta["colour"] == ood.y)  # ρ = 0: never
        for ex in (train, ood):
            if nuisance == "background":
                # The corner pixel is background for every shape (centres keep shapes inside).
                assert torch.allclose(ex.x[:, :, 0, 0], rgb[ex.meta["colour"]])
                assert torch.equal(ex.meta["background"], ex.meta["colour"])
            else:
                solid = ex.meta["shape"] != SHAPES.index("ring")  # a ring has a hole at its centre
                s = ex.x.shape[-1]
                row = (ex.meta["pos_y"] * s).long().clamp(max=s - 1)
                col = (ex.meta["pos_x"] * s).long().clamp(max=s - 1)
                centre = ex.x[torch.arange(len(ex)), :, row, col]
                assert torch.allclose(centre[solid], rgb[ex.meta["colour"][solid]], atol=1e-6)
        assert splits.split_info["agreement_0"]["agreement_achieved"] == 0.0
        assert splits.split_info["test_id"]["agreement_achieved"] == 1.0


def test_deterministic(digits):
    a = SHIFTS.get("spurious")().apply(digits, seed=4)
    b = SHIFTS.get("spurious")().apply(digits, seed=4)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(
        a.ood["agreement_0.1"].meta["colour"], b.ood["agreement_0.1"].meta["colour"]
    )


def test_bad_params_and_data_are_refused():
    for bad in ({"train_agreement": 1.5}, {"test_agreement": -0.1}, {"nuisance": "stripes"}, {"rho": 0.9}):
        with pytest.raises(ValidationError):
            SHIFTS.get("spurious")(bad)
    rgb_part = Examples(torch.rand(6, 3, 4, 4), torch.tensor([0, 1, 0, 1, 0, 1]))
    data = Loaded(DatasetInfo("rgb", 2, (3, 4, 4)), {"train": rgb_part, "val": rgb_part, "test": rgb_part})
    with pytest.raises(ValueError, match="re-renders shapes"):
        SHIFTS.get("spurious")().apply(data, seed=0)
