"""Normalization layers by name, for 1-D features (MLP) and 2-D feature maps (CNN)."""

from __future__ import annotations

from torch import nn

NORMS = ("none", "batch", "layer", "group", "rms")


class ChannelRMSNorm(nn.Module):
    """RMSNorm over the channel axis of (B, C, H, W) maps (Zhang & Sennrich, arXiv:1910.07467)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.norm = nn.RMSNorm(channels, eps=eps)

    def forward(self, x):  # (B, C, H, W) -> same
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


def make_norm(kind: str, features: int, spatial: bool) -> nn.Module:
    """A norm layer over ``features`` channels; ``spatial`` for (B, C, H, W), else (B, C).

    ``group`` uses up to 8 groups that divide ``features`` (DomainBed's MNIST CNN uses
    GroupNorm(8, ·)); ``layer`` on maps normalizes over (C, H, W) as GroupNorm(1, C) does.
    """
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(features) if spatial else nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.GroupNorm(1, features) if spatial else nn.LayerNorm(features)
    if kind == "group":
        groups = max(g for g in (8, 4, 2, 1) if features % g == 0)
        return nn.GroupNorm(groups, features)
    if kind == "rms":
        return ChannelRMSNorm(features) if spatial else nn.RMSNorm(features)
    raise ValueError(f"unknown norm '{kind}'; expected one of {', '.join(NORMS)}")
