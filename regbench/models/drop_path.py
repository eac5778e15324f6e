"""Stochastic depth's building block (Huang et al. 2016, arXiv:1603.09382): drop a residual branch.

:class:`DropPath` sits at the end of a residual branch, before the skip connection adds it.
In training it zeroes the branch for each sample with probability ``p`` and scales the kept
ones by 1 / (1 − p), so the expected output equals the full branch's and evaluation is the
identity (timm's ``DropPath``; Huang et al. instead scale by the survival probability at
test time, which gives the same expectation). One draw per sample, not per mini-batch as in
Huang et al. §3: timm's choice, which keeps the batch's gradient from switching whole blocks
off at once. Randomness comes from the device's default generator, which the training loop
seeds per run and saves in checkpoints, as for ``nn.Dropout``'s masks.

It counts its draws and drops in two int64 buffers, on the device and without a host sync,
so a run can report the fraction of blocks dropped (the regularizer's mechanism number);
being buffers, they are saved with the model and resume exactly.
"""

from __future__ import annotations

import torch
from torch import nn


class DropPath(nn.Module):
    """(B, …) → (B, …): each sample's branch zeroed with probability p in training, else scaled by 1/(1 − p)."""

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop path probability must be in [0, 1), got {p}")
        self.p = p
        self.register_buffer("draws", torch.zeros((), dtype=torch.int64))
        self.register_buffer("dropped", torch.zeros((), dtype=torch.int64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        kept = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device) < keep
        self.draws += x.shape[0]
        self.dropped += (~kept).sum()
        return x * kept.to(x.dtype) / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


def linear_decay(rate: float, blocks: int) -> list[float]:
    """Block l's drop probability (l = 1 … L) under Huang et al.'s linear decay rule (§3):
    p_l = 1 − (l / L)(1 − p_L) survival, i.e. drop = (l / L) · ``rate``; the last block drops ``rate``."""
    return [rate * (i + 1) / blocks for i in range(blocks)]


def dropped_fraction(model: nn.Module) -> float | None:
    """Dropped branches / draws over every :class:`DropPath` of ``model`` (None: none drew). Reads the device."""
    layers = [m for m in model.modules() if isinstance(m, DropPath)]
    if not layers:
        return None
    draws = sum(int(m.draws) for m in layers)
    return sum(int(m.dropped) for m in layers) / draws if draws else None
