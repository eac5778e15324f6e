"""Larger independent test parts: digits_synth's procedural digits, shapes' test_n, and a
ColoredMNIST test environment on its own images."""

import pytest
import torch

from regbench.data.digits_synth import class_counts, draw_digits, load_digits_synth
from regbench.data.shapes import load_shapes
import regbench.shifts.colored_mnist  # noqa: F401  (registers "colored_mnist")
from regbench.shifts import SHIFTS
from regbench.shifts.held_out import IMAGE_ID


def test_digits_synth_parts_have_optdigits_format_and_balanced_classes():
    loaded = load_digits_synth(0, n_train=40, n_val=20, n_test=105)
    assert {k: len(v) for k, v in loaded.parts.items()} == {"train": 40, "val": 20, "test": 105}
    test = loaded.parts["test"]
    assert test.x.shape == (105, 1, 8, 8) and loaded.info.input_shape == (1, 8, 8)
    assert torch.bincount(test.y).tolist() == class_counts(105) == [11] * 5 + [10] * 5
    assert torch.equal(test.x * 16, (test.x * 16).round())  # 4×4 block counts: 17 grey levels
    assert 0 <= test.x.min() and test.x.max() <= 1 and test.x.flatten(1).sum(1).min() > 0  # every digit is inked


def test_digits_synth_training_part_does_not_depend_on_the_test_part_size():
    small, large = load_digits_synth(0, n_train=30, n_test=10), load_digits_synth(0, n_train=30, n_test=500)
    for part in ("train", "val"):
        assert torch.equal(small.parts[part].x, large.parts[part].x)
    assert not torch.equal(load_digits_synth(1, n_train=30, n_test=10).parts["train"].x, small.parts["train"].x)


def test_digits_synth_images_are_distinct_draws_and_classes_differ():
    g = torch.Generator().manual_seed(0)
    knobs = {"rotation": 15, "slant": 0.4, "scale": 0.15, "translate": 0.07, "wobble": 0.06}
    ones = draw_digits(1, 200, g, stroke=(0.07, 0.13), **knobs)
    zeros = draw_digits(0, 200, g, stroke=(0.07, 0.13), **knobs)
    assert len(torch.unique(ones.flatten(1), dim=0)) == 200  # no two writers draw the same bitmap here
    # a 0 is a ring, a 1 a bar: the 0s' mean image is inked off-centre, the 1s' in the middle column
    assert zeros.mean(0)[0, :, 1].mean() > ones.mean(0)[0, :, 1].mean()
    with pytest.raises(ValueError, match="stroke"):
        load_digits_synth(0, stroke_min=0.2, stroke_max=0.1)


def test_shapes_test_n_redraws_only_the_test_part():
    base, more = load_shapes(0, n=120, image_size=8), load_shapes(0, n=120, image_size=8, test_n=300)
    for part in ("train", "val"):
        assert torch.equal(base.parts[part].x, more.parts[part].x)
    assert len(more.parts["test"]) == 300 and more.info.details["test_n"] == 300
    with pytest.raises(ValueError, match="test_n"):
        load_shapes(0, n=120, image_size=8, test_n=0)


def test_colored_mnist_test_env_on_its_own_images():
    loaded = load_digits_synth(0, n_train=100, n_val=40, n_test=2000)
    shift = SHIFTS.get("colored_mnist")
    same = shift({}).build(loaded, seed=0)
    apart = shift({"test_env_images": "separate"}).build(loaded, seed=0)
    # default: the paper's protocol, the test environment recolours test_id's images
    assert torch.equal(same.ood["test_env"].meta[IMAGE_ID], same.test_id.meta[IMAGE_ID])
    ids_id, ids_env = apart.test_id.meta[IMAGE_ID], apart.ood["test_env"].meta[IMAGE_ID]
    assert not set(ids_id.tolist()) & set(ids_env.tolist())
    assert sorted([*ids_id.tolist(), *ids_env.tolist()]) == sorted(same.test_id.meta[IMAGE_ID].tolist())
    assert (apart.ood["test_env"].meta["env"] == 2).all() and apart.split_info["test_env"][
        "test_env_images"
    ] == "separate"
    assert "test_env_images" not in same.split_info["test_env"]  # the default's split_info is as before
    # colour still disagrees with the label in the test environment (test_flip 0.9)
    env = apart.ood["test_env"]
    assert (env.meta["colour"] != env.y).float().mean() > 0.8
