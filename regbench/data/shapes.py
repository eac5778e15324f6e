"""Procedural RGB shapes with independent, recorded factors (offline, any size, seeded).

Each image shows one shape on a plain background. The factors are drawn independently:
shape (the label), foreground colour, size, position (x, y) and background colour, and every
example keeps them in ``Examples.meta`` so that shifts can select on them (compositional
splits) or re-render an example with chosen factors (``render_shapes``), in the spirit of
dSprites (Matthey et al. 2017) and the 3D-shapes family used for compositional generalisation.

Rendering is batched: one pixel grid for the batch, one signed-distance function per shape
*class* (six passes, never one per image), and a one-pixel-wide soft edge for anti-aliasing.
"""

from __future__ import annotations

import math

import torch

from regbench.data import register_dataset
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.names import BACKGROUNDS, COLOURS  # the palettes, named without torch for the shifts' parameters
from regbench.data.splitting import stratified_parts
from regbench.seeding import torch_generator

# --- Factor tables (the one place to change them) ------------------------------------------
# Every shape is mirror-symmetric about the vertical axis through its centre (the triangle
# points up), so a horizontal flip maps a shape of class c to a shape of class c at
# pos_x' = 1 - pos_x: the label does not change and ``flip_invariant`` is True.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "ring", "diamond")
COLOUR_RGB = torch.tensor(list(COLOURS.values()), dtype=torch.float32)  # (C, 3)
BACKGROUND_RGB = torch.tensor(list(BACKGROUNDS.values()), dtype=torch.float32)  # (B, 3)
FACTORS: tuple[str, ...] = ("shape", "colour", "size", "pos_x", "pos_y", "background")

# Shape geometry, relative to ``size`` r (the half-extent, as a fraction of the image side):
SQUARE_HALF_SIDE = 0.8  # square half-side 0.8 r, so its area is close to the circle's
CROSS_HALF_WIDTH = 0.3  # each bar of the cross is 0.6 r wide and 2 r long
RING_MID, RING_HALF_WIDTH = 0.7, 0.3  # ring between radii 0.4 r and r
_COS30 = math.sqrt(3) / 2


def _signed_distance(kind: int, dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Signed distance (negative inside) of shape ``kind`` centred at the origin.

    dx, dy: (M, S, S) offsets of pixel centres from the shape centre (image-side units,
    y pointing down); r: (M, 1, 1) sizes. Returns (M, S, S) in the same units. Distances are
    exact for circle/ring/diamond and close enough (exact inside) for the others: they only
    decide a one-pixel anti-aliased edge.
    """
    ax, ay = dx.abs(), dy.abs()
    name = SHAPES[kind]
    if name == "circle":
        return torch.sqrt(dx**2 + dy**2) - r
    if name == "square":
        return torch.maximum(ax, ay) - SQUARE_HALF_SIDE * r
    if name == "triangle":  # equilateral, circumradius r, apex up: max over its 3 edges
        inradius = r / 2
        bottom = dy - inradius
        sides = _COS30 * ax - 0.5 * dy - inradius
        return torch.maximum(bottom, sides)
    if name == "cross":
        w = CROSS_HALF_WIDTH * r
        horizontal = torch.maximum(ax - r, ay - w)
        vertical = torch.maximum(ax - w, ay - r)
        return torch.minimum(horizontal, vertical)
    if name == "ring":
        return (torch.sqrt(dx**2 + dy**2) - RING_MID * r).abs() - RING_HALF_WIDTH * r
    if name == "diamond":
        return (ax + ay - r) / math.sqrt(2)
    raise ValueError(f"unknown shape index {kind}; shapes: {SHAPES}")  # pragma: no cover


def shape_coverage(
    shape: torch.Tensor, size: torch.Tensor, pos_x: torch.Tensor, pos_y: torch.Tensor, image_size: int
) -> torch.Tensor:
    """Fraction of each pixel covered by the shape: (N, S, S) float32 in [0, 1].

    shape: (N,) int64 indices into ``SHAPES``; size, pos_x, pos_y: (N,) floats as fractions
    of the image side (pixel centres sit at (i + 0.5) / S, so the grid is mirror-symmetric).
    """
    n, s, device = len(shape), image_size, pos_x.device
    centres = (torch.arange(s, dtype=torch.float32, device=device) + 0.5) / s
    coverage = torch.zeros(n, s, s, device=device)
    for kind in torch.unique(shape).tolist():
        if not 0 <= kind < len(SHAPES):
            raise ValueError(f"shape index {kind} out of range 0..{len(SHAPES) - 1} ({SHAPES})")
        idx = torch.nonzero(shape == kind).flatten()
        dx = centres.view(1, 1, s) - pos_x[idx].float().view(-1, 1, 1)  # (M, 1, S)
        dy = centres.view(1, s, 1) - pos_y[idx].float().view(-1, 1, 1)  # (M, S, 1)
        dx, dy = torch.broadcast_tensors(dx, dy)
        sdf = _signed_distance(kind, dx, dy, size[idx].float().view(-1, 1, 1))
        # Distance in pixels → coverage ramp one pixel wide (cheap anti-aliasing).
        coverage[idx] = (0.5 - sdf * s).clamp(0.0, 1.0)
    return coverage


def _rgb(value: torch.Tensor, table: torch.Tensor, what: str) -> torch.Tensor:
    """(N,) palette indices or (N, 3) RGB floats → (N, 3) RGB floats."""
    if value.dim() == 2 and value.shape[1] == 3 and value.is_floating_point():
        return value.float()
    if value.dim() == 1 and not value.is_floating_point():
        if len(value) and (value.min() < 0 or value.max() >= len(table)):
            raise ValueError(f"{what} index out of range 0..{len(table) - 1}")
        return table.to(value.device)[value]
    raise ValueError(f"{what} must be (N,) int64 palette indices or (N, 3) float RGB, got {tuple(value.shape)}")


def render_shapes(
    shape: torch.Tensor,
    colour: torch.Tensor,
    size: torch.Tensor,
    pos_x: torch.Tensor,
    pos_y: torch.Tensor,
    background: torch.Tensor,
    image_size: int = 32,
) -> torch.Tensor:
    """Render N shapes with the given factors: (N, 3, S, S) float32 in [0, 1].

    shape: (N,) int64 into ``SHAPES``. colour: (N,) int64 into ``COLOURS`` or (N, 3) RGB.
    size: (N,) half-extent as a fraction of the side. pos_x, pos_y: (N,) centre, fractions
    of the side (x to the right, y down). background: (N,) int64 into ``BACKGROUNDS`` or
    (N, 3) RGB. Shifts use the RGB forms to paint colours outside the built-in palettes.
    """
    lengths = {len(t) for t in (shape, colour, size, pos_x, pos_y, background)}
    if len(lengths) != 1:
        raise ValueError(f"render_shapes factors disagree on length: {sorted(lengths)}")
    fg = _rgb(colour, COLOUR_RGB, "colour").view(-1, 3, 1, 1)
    bg = _rgb(background, BACKGROUND_RGB, "background").view(-1, 3, 1, 1)
    m = shape_coverage(shape, size, pos_x, pos_y, image_size).unsqueeze(1)  # (N, 1, S, S)
    return bg + (fg - bg) * m


def sample_factors(n: int, generator: torch.Generator, size_min: float, size_max: float) -> dict[str, torch.Tensor]:
    """Draw every factor independently: a dict of (N,) tensors keyed by ``FACTORS``.

    Positions keep the whole shape inside the image: centres in [size_max, 1 - size_max].
    """
    g = generator
    return {
        "shape": torch.randint(len(SHAPES), (n,), generator=g),
        "colour": torch.randint(len(COLOURS), (n,), generator=g),
        "size": size_min + (size_max - size_min) * torch.rand(n, generator=g),
        "pos_x": size_max + (1 - 2 * size_max) * torch.rand(n, generator=g),
        "pos_y": size_max + (1 - 2 * size_max) * torch.rand(n, generator=g),
        "background": torch.randint(len(BACKGROUNDS), (n,), generator=g),
    }


@register_dataset("shapes")
def load_shapes(
    seed: int,
    n: int = 3000,
    image_size: int = 32,
    size_min: float = 0.12,
    size_max: float = 0.3,
    val_fraction: float = 0.2,
    test_fraction: float = 0.25,
    test_n: int | None = None,
) -> Loaded:
    """Procedural shapes: (N, 3, S, S) float32 in [0, 1], label = shape class (6 classes).

    Factors (shape, colour, size, pos_x, pos_y, background) are independent draws from
    ``torch_generator(seed, "shapes", n, image_size, size_min, size_max)`` and kept in
    ``meta``; parts train/val/test are stratified by class. ``flip_invariant`` is True:
    every shape is mirror-symmetric (see ``SHAPES``), so a flip never changes the label.
    ``test_n``: replace the test part by ``test_n`` fresh draws (from their own generator,
    ``(…, "test", test_n)``), for more independent test images than ``n`` gives; train and
    val are then exactly those of ``test_n=None``, so training does not change.
    """
    if n < 1 or image_size < 4:
        raise ValueError(f"shapes needs n ≥ 1 and image_size ≥ 4, got n={n}, image_size={image_size}")
    if not 0 < size_min <= size_max < 0.5:
        raise ValueError(f"shapes needs 0 < size_min ≤ size_max < 0.5, got {size_min}, {size_max}")
    g = torch_generator(seed, "shapes", n, image_size, size_min, size_max)
    factors = sample_factors(n, g, size_min, size_max)
    x = render_shapes(**factors, image_size=image_size)
    pool = Examples(x, factors["shape"].clone(), factors)
    parts = stratified_parts(pool, {"val": val_fraction, "test": test_fraction}, seed=seed)
    if test_n is not None:
        if test_n < 1:
            raise ValueError(f"shapes needs test_n ≥ 1 (or None), got {test_n}")
        g_test = torch_generator(seed, "shapes", n, image_size, size_min, size_max, "test", test_n)
        test_factors = sample_factors(test_n, g_test, size_min, size_max)
        x_test = render_shapes(**test_factors, image_size=image_size)
        parts["test"] = Examples(x_test, test_factors["shape"].clone(), test_factors)
    info = DatasetInfo(
        name="shapes",
        num_classes=len(SHAPES),
        input_shape=(3, image_size, image_size),
        flip_invariant=True,
        factors=FACTORS,
        details={
            "source": "generated",
            "n": n,
            **({"test_n": test_n} if test_n is not None else {}),
            "shapes": list(SHAPES),
            "colours": list(COLOURS),
            "backgrounds": list(BACKGROUNDS),
            "size_range": [size_min, size_max],
        },
    )
    return Loaded(info, parts)
