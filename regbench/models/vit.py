"""A small Vision Transformer (Dosovitskiy et al. 2020, arXiv:2010.11929) for small images.

Patchify with a strided convolution, add a learned class token and learned position
embeddings, run ``depth`` transformer blocks, classify the class token. Pre-norm (as in ViT,
more stable when deep) or post-norm (as in the original Transformer, arXiv:1706.03762) and
LayerNorm or RMSNorm are knobs, so "architecture as a regularizer" can be swept in YAML.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from regbench.models import register_model
from regbench.models.drop_path import DropPath, linear_decay
from regbench.params import PositiveInt, Rate


def _norm(kind: str, dim: int) -> nn.Module:
    # "batch"/"group" make little sense over tokens; the transformer norms are layer and rms
    return nn.RMSNorm(dim) if kind == "rms" else nn.LayerNorm(dim)


class Block(nn.Module):
    """One transformer block: multi-head self-attention and a 4×-wide GELU MLP, each residual."""

    def __init__(self, dim: int, heads: int, dropout: float, norm: str, prenorm: bool, drop_path: float = 0.0):
        super().__init__()
        self.prenorm = prenorm
        # stochastic depth on both residual branches, as timm's ViT blocks (models/drop_path.py)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm1, self.norm2 = _norm(norm, dim), _norm(norm, dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim), nn.Dropout(dropout)
        )
        self.drop = nn.Dropout(dropout)

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.attn(x, x, x, need_weights=False)[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        if self.prenorm:
            x = x + self.drop_path(self._attend(self.norm1(x)))
            return x + self.drop_path(self.mlp(self.norm2(x)))
        x = self.norm1(x + self.drop_path(self._attend(x)))
        return self.norm2(x + self.drop_path(self.mlp(x)))


class ViT(nn.Module):
    """Input (B, C, H, W) → logits (B, num_classes). H and W must be multiples of ``patch``."""

    def __init__(self, input_shape, num_classes, patch, width, depth, heads, dropout, norm, prenorm, drop_path=0.0):
        super().__init__()
        c, h, w = input_shape
        self.embed = nn.Conv2d(c, width, patch, stride=patch)  # (B, C, H, W) -> (B, D, H/p, W/p)
        tokens = (h // patch) * (w // patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, width) * 0.02)
        self.drop = nn.Dropout(dropout)
        rates = linear_decay(drop_path, depth)
        self.blocks = nn.Sequential(*[Block(width, heads, dropout, norm, prenorm, p) for p in rates])
        # pre-norm leaves the residual stream unnormalized: normalize once before the head
        self.norm = _norm(norm, width) if prenorm else nn.Identity()
        self.head = nn.Linear(width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) → the class token's final representation (B, D) (models/parts.py)."""
        z = self.embed(x).flatten(2).transpose(1, 2)  # (B, T, D)
        z = torch.cat([self.cls.expand(len(z), -1, -1), z], dim=1) + self.pos  # (B, T+1, D)
        z = self.norm(self.blocks(self.drop(z)))
        return z[:, 0]

    @property
    def classifier(self) -> nn.Module:
        return self.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@register_model("vit")
def vit(
    input_shape: tuple[int, ...],
    num_classes: int,
    patch: PositiveInt = 2,
    width: PositiveInt = 64,
    depth: PositiveInt = 2,
    heads: PositiveInt = 4,
    dropout: Rate = 0.0,
    norm: Literal["layer", "rms"] = "layer",
    prenorm: bool = True,
    drop_path: Rate = 0.0,
) -> nn.Module:
    """Small ViT: patch×patch patches → ``depth`` blocks of width ``width`` with ``heads`` heads.

    Defaults suit 8×8 digits (16 patches of 2×2 + a class token). ``norm`` is the token norm
    (layer | rms); ``prenorm`` False gives the post-norm block. ``drop_path`` > 0 is stochastic
    depth on every block's two residual branches, rising linearly to ``drop_path`` at the
    last block (models/drop_path.py). Input (B, C, H, W) → (B, K).
    """
    if len(input_shape) != 3:
        raise ValueError(f"vit needs (C, H, W) images; got input shape {tuple(input_shape)}")
    _, h, w = input_shape
    if h % patch or w % patch:
        raise ValueError(f"vit: image size {h}×{w} is not a multiple of patch {patch}")
    if width % heads:
        raise ValueError(f"vit: width {width} must be divisible by heads {heads}")
    if min(patch, width, depth, heads) < 1 or not 0 <= dropout < 1 or not math.isfinite(dropout):
        raise ValueError("vit: patch, width, depth, heads must be ≥ 1 and dropout in [0, 1)")
    if not 0 <= drop_path < 1:
        raise ValueError(f"vit: drop_path must be in [0, 1), got {drop_path}")
    return ViT(tuple(input_shape), num_classes, patch, width, depth, heads, dropout, norm, prenorm, drop_path)
