"""Many deformed digits from scikit-learn's 1,797: a larger procedural digits dataset (offline).

Each of scikit-learn's 8×8 digits is drawn ``per_image`` times through one random warp and
resampled onto a ``size``×``size`` grid (14 by default, the paper's 14×14 MNIST in
Arjovsky et al. 2019, §5.2). A warp is, per drawn image:

- an affine map: rotation ±``rotation`` degrees, scale 1 ± ``scale``, shear ±``shear``,
  translation ±``translate`` (fractions of the image half-width);
- an elastic displacement (Simard et al. 2003): a random field on a coarse 3×3 grid,
  upsampled bicubically to the output grid, amplitude ``elastic`` (same units);
- a stroke-weight change: the grey level raised to γ = exp(U(−``stroke``, ``stroke``)),
  thicker strokes below 1, thinner above.

The base digits are split train/val/test by class first, with the same split as ``digits``,
so no drawn image of a test digit is a warp of a training digit: a held-out part measures
generalisation to new writers, not to new warps. Every draw is seeded from
``(seed, part)``; the splits built from it are cached under the spec's fingerprint like every
dataset's (regbench/data/cache.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from regbench.data import register_dataset
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.digits import load_digits
from regbench.seeding import torch_generator


def uniform(n: int, half_width: float, g: torch.Generator) -> torch.Tensor:
    """(n,) draws from U(−half_width, half_width)."""
    return (torch.rand(n, generator=g) * 2 - 1) * half_width


def affine_grids(n: int, size: int, rotation: float, scale: float, shear: float, translate: float, g) -> torch.Tensor:
    """(n, size, size, 2) sampling grids of random affine maps, in grid_sample's [−1, 1] coordinates."""
    angle = uniform(n, math.radians(rotation), g)
    s = 1 + uniform(n, scale, g)
    sh = uniform(n, shear, g)
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s  # the grid maps output → input: divide by the scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin + sh * cos
    theta[:, 1, 0], theta[:, 1, 1] = sin, cos + sh * sin
    theta[:, :, 2] = uniform(2 * n, translate, g).view(n, 2)
    return F.affine_grid(theta, [n, 1, size, size], align_corners=False)


def elastic_field(n: int, size: int, amplitude: float, g: torch.Generator) -> torch.Tensor:
    """(n, size, size, 2) smooth random displacements: a 3×3 field of U(−a, a) upsampled bicubically."""
    coarse = uniform(n * 2 * 9, amplitude, g).view(n, 2, 3, 3)
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)


def warp_digits(x: torch.Tensor, per_image: int, size: int, g: torch.Generator, **knobs: float) -> torch.Tensor:
    """(N, 1, 8, 8) digits → (N · per_image, 1, size, size) warped draws, image i's at i, N + i, 2N + i, …

    ``knobs``: ``rotation``, ``scale``, ``shear``, ``translate``, ``elastic``, ``stroke`` (module docstring).
    """
    src = x.repeat(per_image, 1, 1, 1)
    n = len(src)
    grid = affine_grids(n, size, knobs["rotation"], knobs["scale"], knobs["shear"], knobs["translate"], g)
    grid = grid + elastic_field(n, size, knobs["elastic"], g)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False).clamp_(0, 1)
    gamma = torch.exp(uniform(n, knobs["stroke"], g)).view(n, 1, 1, 1)
    return out.pow_(gamma)


@register_dataset("digits_large")
def load_digits_large(
    seed: int,
    per_image: int = 8,
    size: int = 14,
    rotation: float = 12.0,
    scale: float = 0.1,
    shear: float = 0.15,
    translate: float = 0.08,
    elastic: float = 0.08,
    stroke: float = 0.4,
    val_fraction: float = 0.2,
    test_fraction: float = 0.25,
) -> Loaded:
    """``per_image`` warped draws of every sklearn digit, as (N, 1, size, size) float32 in [0, 1].

    10 classes; the base digits are split by class exactly as ``digits`` splits them, then
    each part is warped with its own seeded generator (module docstring for the knobs).
    """
    if per_image < 1 or size < 4:
        raise ValueError(f"digits_large needs per_image ≥ 1 and size ≥ 4, got per_image={per_image}, size={size}")
    knobs = {"rotation": rotation, "scale": scale, "shear": shear, "translate": translate}
    knobs.update(elastic=elastic, stroke=stroke)
    if any(v < 0 for v in knobs.values()):
        raise ValueError(f"digits_large's warp sizes must be ≥ 0, got {knobs}")
    base = load_digits(seed, val_fraction=val_fraction, test_fraction=test_fraction)
    parts = {}
    for name, ex in base.parts.items():
        g = torch_generator(seed, "data", "digits_large", name)
        x = warp_digits(ex.x, per_image, size, g, **knobs)
        parts[name] = Examples(x, ex.y.repeat(per_image), {"source_index": torch.arange(len(ex)).repeat(per_image)})
    info = DatasetInfo(
        name="digits_large",
        num_classes=10,
        input_shape=(1, size, size),
        flip_invariant=False,
        details={
            "source": "sklearn.datasets.load_digits, warped",
            "n": sum(len(p) for p in parts.values()),
            "per_image": per_image,
            **knobs,
        },
    )
    return Loaded(info, parts)
