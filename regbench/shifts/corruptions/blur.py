"""Blur corruptions, each ``fn(x, severity, g, scale) -> x'`` on x (N, C, H, W) in [0, 1] (package docstring).

Widths are in pixels at 32×32 (``pixels_for``); every kernel runs as one (grouped) conv over the batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from regbench.shifts.corruptions.common import pixels_for, severity_param, uniform_draw


def _conv_same(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Correlate x (N, C, H, W) with a (k, k) kernel shared by all, or (N, k, k) per image.

    Edge pixels are replicated; unlike reflection this works when the kernel is wider than
    a tiny image.
    """
    n, c, h, w = x.shape
    kh, kw = kernel.shape[-2:]
    xp = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2), mode="replicate")
    if kernel.dim() == 2:  # depthwise, one kernel for every channel
        return F.conv2d(xp, kernel.expand(c, 1, kh, kw).to(x), groups=c)
    # per-image kernels: fold the batch into channels so one grouped conv does all images
    weight = kernel.to(x).repeat_interleave(c, dim=0).unsqueeze(1)  # (N·C, 1, kh, kw)
    return F.conv2d(xp.reshape(1, n * c, *xp.shape[-2:]), weight, groups=n * c).reshape(n, c, h, w)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    """(k, k) normalised Gaussian with k = 2·ceil(3σ) + 1."""
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k1 = torch.exp(-(t**2) / (2 * sigma**2))
    k2 = torch.outer(k1, k1)
    return k2 / k2.sum()


def gaussian_blur(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Gaussian blur, sigma in px at 32×32. x: (N, C, H, W). A validation corruption."""
    return _conv_same(x, _gaussian_kernel(pixels_for(x, severity_param("gaussian_blur", severity, scale)))).clamp(0, 1)


def defocus_blur(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Disk (out-of-focus) kernel, then a small Gaussian against aliasing, as ImageNet-C."""
    radius, alias = (pixels_for(x, v) for v in severity_param("defocus_blur", severity, scale))
    r = max(1, math.ceil(radius))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    disk = ((t[:, None] ** 2 + t[None, :] ** 2) <= radius**2).float()
    disk = F.conv2d(disk[None, None], _gaussian_kernel(alias)[None, None], padding="same")[0, 0]
    return _conv_same(x, disk / disk.sum()).clamp(0, 1)


def motion_blur(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """One-sided streak at a random angle in [-45°, 45°] per image (ImageNet-C uses Wand's).

    The kernel is a Gaussian-weighted line of length 3σ, splatted bilinearly onto the pixel
    grid, so each image gets its own (k, k) kernel and one grouped conv applies them all.
    """
    sigma = pixels_for(x, severity_param("motion_blur", severity, scale))
    angle = (uniform_draw(g, (len(x),), x) * 2 - 1) * (math.pi / 4)  # (N,)
    r = math.ceil(3 * sigma)
    t = torch.arange(0, r + 1, dtype=x.dtype, device=x.device)  # steps along the streak, px
    w = torch.exp(-(t**2) / (2 * sigma**2))  # (J,)
    px, py = t * angle.cos()[:, None], t * angle.sin()[:, None]  # (N, J)
    cells = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)  # (k,)
    tent_x = (1 - (cells[None, None, :] - px[..., None]).abs()).clamp(min=0)  # (N, J, k)
    tent_y = (1 - (cells[None, None, :] - py[..., None]).abs()).clamp(min=0)
    kernel = torch.einsum("j,njy,njx->nyx", w, tent_y, tent_x)  # (N, k, k)
    return _conv_same(x, kernel / kernel.sum((1, 2), keepdim=True)).clamp(0, 1)


def _zoom_matrix(side: int, zoom: float, like: torch.Tensor) -> torch.Tensor:
    """(side, side) bilinear resampling that zooms by ``zoom`` about the centre, edges clamped.

    A centre zoom is separable, so ``A @ x @ B.T`` does what grid_sample would, much faster.
    """
    i = torch.arange(side, dtype=torch.float64)
    src = ((2 * i + 1) / side - 1) / zoom  # output pixel centre in normalised coords, zoomed
    p = ((src + 1) * side - 1) / 2  # … in input pixel units
    lo = p.floor()
    frac = p - lo
    m = torch.zeros(side, side, dtype=torch.float64)
    m.index_put_((i.long(), lo.long().clamp(0, side - 1)), 1 - frac, accumulate=True)
    m.index_put_((i.long(), (lo.long() + 1).clamp(0, side - 1)), frac, accumulate=True)
    return m.to(like.device, like.dtype)


def zoom_blur(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Average of centre zooms 1.00, 1.01, … up to the severity's largest, and the image."""
    top = severity_param("zoom_blur", severity, scale)
    zooms = torch.arange(1.0, top - 1e-9, 0.01).tolist()
    h, w = x.shape[-2:]
    out = x.clone()
    for z in zooms:  # ≤ 26 zoom factors; each step is two matmuls over the whole batch
        out += _zoom_matrix(h, z, x) @ x @ _zoom_matrix(w, z, x).T
    return (out / (len(zooms) + 1)).clamp(0, 1)
