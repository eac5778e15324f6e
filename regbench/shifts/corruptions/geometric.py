"""Geometric corruptions (elastic warp, rotation), each ``fn(x, severity, g, scale) -> x'`` on x
(N, C, H, W) in [0, 1] (package docstring), and ``rotate_by`` for rotation domains.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from regbench.shifts.corruptions.common import normal_draw, pixels_for, severity_param


def _sample(x: torch.Tensor, grid: torch.Tensor, padding: str = "border") -> torch.Tensor:
    return F.grid_sample(x, grid.to(x), mode="bilinear", padding_mode=padding, align_corners=False)


def _affine(x: torch.Tensor, theta: torch.Tensor, padding: str = "border") -> torch.Tensor:
    """Resample x through a (2, 3) or (N, 2, 3) affine map of normalised output coords."""
    theta = theta.to(x).expand(len(x), 2, 3)
    return _sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), padding)


def elastic_transform(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Warp by a smooth random displacement field (a 4×4 lattice of Gaussian control
    displacements upsampled bicubically), RMS size per severity in px at 32×32.
    """
    rms = pixels_for(x, severity_param("elastic_transform", severity, scale))
    n, _, h, w = x.shape
    coarse = normal_draw(g, (n, 2, 4, 4), x)
    field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
    field = field / field.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp(min=1e-12)
    # px → normalised coords: the image side spans 2 units over `side` pixels
    scale = torch.tensor([2 * rms / w, 2 * rms / h], dtype=x.dtype, device=x.device)
    eye = torch.eye(2, 3, dtype=x.dtype, device=x.device).expand(n, 2, 3)
    identity = F.affine_grid(eye, [n, 1, h, w], align_corners=False)  # (N, H, W, 2)
    return _sample(x, identity + field.permute(0, 2, 3, 1) * scale).clamp(0, 1)


def rotate_by(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate every image counter-clockwise by ``degrees`` about its centre; corners are 0.

    x: (N, C, H, W). Zero (black) fill matches digits' background, as in RotatedMNIST.
    """
    a = math.radians(degrees)
    h, w = x.shape[-2:]
    # affine_grid maps output → input in normalised coords; correct for non-square aspect
    c, s = math.cos(a), math.sin(a)
    theta = torch.tensor([[c, -s * h / w, 0.0], [s * w / h, c, 0.0]])
    return _affine(x, theta, padding="zeros").clamp(0, 1)


def rotate(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Rotation by 15°, 30°, …, 75° at severities 1..5 (deterministic)."""
    return rotate_by(x, severity_param("rotate", severity, scale))
