"""Noise corruptions, each ``fn(x, severity, g, scale) -> x'`` on x (N, C, H, W) in [0, 1] (package docstring)."""

from __future__ import annotations

import torch

from regbench.shifts.corruptions.common import normal_draw, severity_param, uniform_draw


def gaussian_noise(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Additive Gaussian noise, std per severity in intensity units. x: (N, C, H, W)."""
    return (x + normal_draw(g, x.shape, x) * severity_param("gaussian_noise", severity, scale)).clamp(0, 1)


def shot_noise(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Poisson (photon) noise: Poisson(x·λ)/λ. x: (N, C, H, W)."""
    lam = severity_param("shot_noise", severity, scale)
    counts = torch.poisson((x * lam).to(g.device, torch.float32), generator=g)
    return (counts.to(x) / lam).clamp(0, 1)


def impulse_noise(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Salt-and-pepper noise on a fraction of the values (per channel, as skimage does)."""
    amount = severity_param("impulse_noise", severity, scale)
    hit = uniform_draw(g, x.shape, x) < amount  # nested across severities for the same draws
    salt = uniform_draw(g, x.shape, x) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)


def speckle_noise(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Multiplicative noise x + x·N(0, σ²). x: (N, C, H, W). A validation corruption."""
    return (x + x * normal_draw(g, x.shape, x) * severity_param("speckle_noise", severity, scale)).clamp(0, 1)
