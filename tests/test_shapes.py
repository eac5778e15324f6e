"""The procedural shapes dataset: seeded, factors independent and recorded, rendering correct."""

import pytest
import torch

from regbench.data import DATASETS
from regbench.data.shapes import (
    BACKGROUND_RGB,
    COLOUR_RGB,
    COLOURS,
    FACTORS,
    SHAPES,
    load_shapes,
    render_shapes,
)

S = 32


def one(shape="square", colour="red", size=0.25, x=0.5, y=0.5, background=0, image_size=S):
    """Render a single shape by name; returns (3, S, S)."""
    return render_shapes(
        torch.tensor([SHAPES.index(shape)]),
        torch.tensor([list(COLOURS).index(colour)]),
        torch.tensor([size]),
        torch.tensor([x]),
        torch.tensor([y]),
        torch.tensor([background]),
        image_size,
    )[0]


def test_registered_and_shapes_of_tensors():
    loaded = DATASETS.get("shapes")(seed=0, n=300)
    assert loaded.info.num_classes == len(SHAPES) >= 5 and len(COLOURS) >= 5
    assert loaded.info.input_shape == (3, S, S) and loaded.info.flip_invariant
    assert set(loaded.parts) == {"train", "val", "test"}
    assert sum(len(p) for p in loaded.parts.values()) == 300
    for part in loaded.parts.values():
        assert part.x.dtype == torch.float32 and part.x.shape[1:] == (3, S, S)
        assert part.x.min() >= 0 and part.x.max() <= 1
        assert part.y.dtype == torch.int64
        assert set(part.meta) == set(FACTORS)
        assert torch.equal(part.y, part.meta["shape"])  # label = shape class


def test_deterministic_per_seed_and_any_n():
    a, b, c = load_shapes(7, n=123), load_shapes(7, n=123), load_shapes(8, n=123)
    for name in a.parts:
        assert torch.equal(a.parts[name].x, b.parts[name].x)
        for k in FACTORS:
            assert torch.equal(a.parts[name].meta[k], b.parts[name].meta[k])
    assert not torch.equal(a.parts["train"].x, c.parts["train"].x[: len(a.parts["train"])])
    assert sum(len(p) for p in c.parts.values()) == 123


def test_factors_in_range_and_independent():
    loaded = load_shapes(0, n=3000, size_min=0.1, size_max=0.3)
    m = {k: torch.cat([p.meta[k] for p in loaded.parts.values()]) for k in FACTORS}
    assert m["size"].min() >= 0.1 and m["size"].max() <= 0.3
    for axis in ("pos_x", "pos_y"):  # centres keep the largest shape inside the image
        assert m[axis].min() >= 0.3 and m[axis].max() <= 0.7
    # Independence: with n = 3000 a correlation's standard error is ≈ 0.018; 0.08 is > 4σ.
    stacked = torch.stack([m[k].double() for k in FACTORS])
    corr = torch.corrcoef(stacked)
    off_diagonal = corr - torch.eye(len(FACTORS), dtype=torch.float64)
    assert off_diagonal.abs().max() < 0.08
    # Every (shape, colour) combination occurs, near its expected count 3000/36 ≈ 83.
    counts = torch.bincount(m["shape"] * len(COLOURS) + m["colour"], minlength=len(SHAPES) * len(COLOURS))
    assert counts.min() > 40 and counts.max() < 130


def test_known_factors_put_colour_pixels_where_expected():
    img = one("square", "red", size=0.25, x=0.5, y=0.5, background=1)  # half-side 0.2 → pixels 10..21
    red, grey = COLOUR_RGB[0], BACKGROUND_RGB[1]
    assert torch.allclose(img[:, 16, 16], red)
    assert torch.allclose(img[:, 11, 20], red)  # inside the square
    assert torch.allclose(img[:, 16, 5], grey)  # left of it
    assert torch.allclose(img[:, 0, 0], grey)
    # Moving the centre moves the colour.
    moved = one("circle", "blue", size=0.15, x=0.25, y=0.75)
    assert torch.allclose(moved[:, 24, 8], COLOUR_RGB[2])  # row = y, column = x
    assert torch.allclose(moved[:, 8, 24], BACKGROUND_RGB[0])


def test_each_shape_has_its_own_silhouette():
    masks = torch.stack([(one(s, "yellow", size=0.4) != 0).any(0) for s in SHAPES]).flatten(1).float()
    # No two shapes render the same pixel set.
    diff = torch.cdist(masks, masks, p=1) + torch.eye(len(SHAPES)) * 1e9
    assert diff.min() >= 20
    ring, circle = one("ring", size=0.3), one("circle", size=0.3)
    assert torch.allclose(ring[:, 16, 16], BACKGROUND_RGB[0]) and torch.allclose(circle[:, 16, 16], COLOUR_RGB[0])
    triangle = one("triangle", size=0.3)  # apex up: the row under the top vertex is narrower than the base row
    assert (triangle[0, 10] > 0.5).sum() < (triangle[0, 20] > 0.5).sum()


def test_horizontal_flip_keeps_the_class():
    """flip_invariant: a flipped shape equals the same shape rendered at pos_x' = 1 − pos_x."""
    n = 60
    g = torch.Generator().manual_seed(0)
    shape = torch.arange(n) % len(SHAPES)
    colour, bg = torch.randint(len(COLOURS), (n,), generator=g), torch.randint(5, (n,), generator=g)
    size, px, py = 0.1 + 0.2 * torch.rand(n, generator=g), torch.rand(n, generator=g), torch.rand(n, generator=g)
    flipped = render_shapes(shape, colour, size, px, py, bg, S).flip(-1)
    mirrored = render_shapes(shape, colour, size, 1 - px, py, bg, S)
    assert torch.allclose(flipped, mirrored, atol=1e-5)


def test_render_accepts_rgb_colours():
    rgb = torch.tensor([[0.2, 0.4, 0.6]])
    img = render_shapes(
        torch.tensor([0]), rgb, torch.tensor([0.3]), torch.tensor([0.5]), torch.tensor([0.5]), rgb * 0, S
    )
    assert torch.allclose(img[0, :, 16, 16], rgb[0])


def test_bad_input_is_refused_clearly():
    t = torch.tensor
    with pytest.raises(ValueError, match="shape index 9 out of range"):
        render_shapes(t([9]), t([0]), t([0.2]), t([0.5]), t([0.5]), t([0]), S)
    with pytest.raises(ValueError, match="colour index out of range"):
        render_shapes(t([0]), t([99]), t([0.2]), t([0.5]), t([0.5]), t([0]), S)
    with pytest.raises(ValueError, match="disagree on length"):
        render_shapes(t([0, 1]), t([0]), t([0.2]), t([0.5]), t([0.5]), t([0]), S)
    with pytest.raises(ValueError, match="size_min"):
        load_shapes(0, size_min=0.3, size_max=0.2)
    with pytest.raises(ValueError, match="image_size"):
        load_shapes(0, image_size=2)
