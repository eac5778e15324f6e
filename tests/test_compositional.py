"""Compositional shift on shapes: held-out combinations and size extrapolation."""

import pytest
import torch
from pydantic import ValidationError

import regbench.shifts.compositional  # noqa: F401  (registers "compositional")
from regbench.data.digits import load_digits
from regbench.data.shapes import COLOURS, SHAPES, load_shapes, render_shapes
from regbench.seeding import torch_generator
from regbench.shifts import SHIFTS
from regbench.shifts.compositional import heldout_cells

# split_info entries become keyword arguments of the evaluator's rows: these names would clash.
RESERVED = {"split", "metric", "value", "n"}

S, C = len(SHAPES), len(COLOURS)


@pytest.fixture(scope="module")
def shapes():
    return load_shapes(0, n=1500)


def combos(ex) -> set[tuple[int, int]]:
    return set(zip(ex.meta["shape"].tolist(), ex.meta["colour"].tolist()))


@pytest.mark.parametrize(
    "s,c,fraction", [(6, 6, 0.25), (6, 6, 0.8), (6, 4, 0.5), (5, 7, 0.3), (3, 3, 2 / 3), (2, 9, 0.4)]
)
def test_heldout_design_is_balanced_and_keeps_every_factor(s, c, fraction):
    table = heldout_cells(s, c, fraction, torch_generator(0, "test"))
    h = round(fraction * s * c)
    assert int(table.sum()) == h
    per_shape, per_colour = table.sum(1), table.sum(0)
    assert per_shape.max() - per_shape.min() <= 1 and per_colour.max() - per_colour.min() <= 1
    assert per_shape.max() < c and per_colour.max() < s  # every shape and colour keeps a training cell


def test_heldout_design_refuses_what_would_drop_a_factor():
    with pytest.raises(ValueError, match="every shape and colour keeps"):
        heldout_cells(3, 3, 0.9, torch_generator(0))
    with pytest.raises(ValueError, match="between 1 and"):
        heldout_cells(6, 6, 0.001, torch_generator(0))


def test_splits_separate_seen_and_heldout_combinations(shapes):
    splits = SHIFTS.get("compositional")().apply(shapes, seed=0)
    info = splits.split_info["heldout_combinations"]
    assert not any(RESERVED & v.keys() for v in splits.split_info.values())
    held = {(SHAPES.index(a), list(COLOURS).index(b)) for a, b in info["combinations"]}
    assert len(held) == round(0.25 * S * C) == 9
    for ex in (splits.train, splits.val, splits.test_id):
        assert not combos(ex) & held
    assert set(splits.train.meta["shape"].tolist()) == set(range(S))
    assert set(splits.train.meta["colour"].tolist()) == set(range(C))
    ood = splits.ood["heldout_combinations"]
    assert combos(ood) == held  # only held-out combinations, and all of them
    # Nothing is lost or duplicated: every loaded example is in exactly one of the four sets.
    total = sum(len(p) for p in shapes.parts.values())
    assert len(splits.train) + len(splits.val) + len(splits.test_id) + len(ood) == total
    assert torch.equal(ood.meta["group"], ood.meta["shape"] * C + ood.meta["colour"])


def test_size_extrapolation_is_outside_the_training_range(shapes):
    splits = SHIFTS.get("compositional")().apply(shapes, seed=0)
    lo, hi = shapes.info.details["size_range"]
    band_lo, band_hi = splits.split_info["size_extrapolation"]["train_size_range"]
    assert lo < band_lo < band_hi < hi
    in_dist = torch.cat(
        [ex.meta["size"] for ex in (splits.train, splits.val, splits.test_id, splits.ood["heldout_combinations"])]
    )
    assert in_dist.min() >= band_lo - 1e-6 and in_dist.max() <= band_hi + 1e-6
    ood = splits.ood["size_extrapolation"].meta["size"]
    assert torch.all((ood < in_dist.min()) | (ood > in_dist.max()))
    assert (ood < band_lo).any() and (ood > band_hi).any()  # both smaller and larger
    assert ood.min() >= lo - 1e-6 and ood.max() <= hi + 1e-6
    # Pixels were re-rendered to match the recorded sizes.
    for ex in (splits.train, splits.ood["size_extrapolation"]):
        m = ex.meta
        again = render_shapes(m["shape"], m["colour"], m["size"], m["pos_x"], m["pos_y"], m["background"], 32)
        assert torch.allclose(ex.x, again)
    held = {
        (SHAPES.index(a), list(COLOURS).index(b)) for a, b in splits.split_info["heldout_combinations"]["combinations"]
    }
    extrapolated = splits.ood["size_extrapolation"]
    assert not combos(extrapolated) & held  # seen combinations only: one shift at a time
    assert len(extrapolated) == len(splits.test_id)


def test_without_size_extrapolation_sizes_are_untouched(shapes):
    splits = SHIFTS.get("compositional")({"extrapolate_size": False, "holdout_fraction": 0.5}).apply(shapes, seed=1)
    assert set(splits.ood) == {"heldout_combinations"}
    assert len(splits.split_info["heldout_combinations"]["combinations"]) == 18
    original = shapes.parts["train"]
    held = {
        (SHAPES.index(a), list(COLOURS).index(b)) for a, b in splits.split_info["heldout_combinations"]["combinations"]
    }
    seen = torch.tensor([c not in held for c in zip(original.meta["shape"].tolist(), original.meta["colour"].tolist())])
    assert torch.equal(splits.train.x, original.x[seen])  # same images, only filtered
    assert torch.equal(splits.train.meta["size"], original.meta["size"][seen])


def test_deterministic_and_seed_dependent(shapes):
    def held(seed):
        splits = SHIFTS.get("compositional")({"extrapolate_size": False}).apply(shapes, seed=seed)
        return splits.split_info["heldout_combinations"]["combinations"]

    assert held(0) == held(0)
    assert len({str(sorted(held(s))) for s in range(4)}) > 1


def test_bad_params_and_data_are_refused(shapes):
    for bad in ({"holdout_fraction": 1.0}, {"holdout_fraction": 0.0}, {"holdout_fraction": 1.5}, {"extrapolate": True}):
        with pytest.raises(ValidationError):
            SHIFTS.get("compositional")(bad)
    with pytest.raises(ValueError, match="needs dataset 'shapes'"):
        SHIFTS.get("compositional")().apply(load_digits(0), seed=0)
    with pytest.raises(ValueError, match="every shape and colour keeps"):
        SHIFTS.get("compositional")({"holdout_fraction": 0.99}).apply(shapes, seed=0)
