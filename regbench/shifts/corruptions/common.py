"""What every corruption family shares: the range-checked severity lookup, lengths given in
pixels at 32×32, and random draws made on the generator's device."""

from __future__ import annotations

from collections.abc import Callable

import torch

from regbench.shifts.corruptions.tables import severity_table

Corruption = Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]


def severity_param(name: str, severity: int, scale: float = 1.0):
    """The table entry of ``name`` at ``severity`` (scaled), with the range check ImageNet-C lacks."""
    if isinstance(severity, bool) or not isinstance(severity, int) or not 1 <= severity <= 5:
        raise ValueError(f"{name}: severity must be an int in 1..5, got {severity!r}")
    return severity_table(name, scale)[severity - 1]


def pixels_for(x: torch.Tensor, pixels_at_32: float) -> float:
    """A length in pixels at 32×32 converted to pixels of x (never scaled below 32-px units)."""
    return pixels_at_32 * max(1.0, max(x.shape[-2:]) / 32)


def normal_draw(g: torch.Generator, shape, like: torch.Tensor) -> torch.Tensor:
    """Standard normal draws of ``shape`` from ``g``, on ``like``'s device and dtype."""
    # Draw on the generator's device, then move: one seed, one corruption, whatever x's device.
    return torch.randn(shape, generator=g, device=g.device).to(like.device, like.dtype)


def uniform_draw(g: torch.Generator, shape, like: torch.Tensor) -> torch.Tensor:
    """Uniform [0, 1) draws of ``shape`` from ``g``, on ``like``'s device and dtype (drawn as ``normal_draw``)."""
    return torch.rand(shape, generator=g, device=g.device).to(like.device, like.dtype)
