"""Batched token-level augmentation of padded id sequences (the command side of SCAN).

Word dropout (Iyyer et al. 2015, https://aclanthology.org/P15-1162; Bowman et al. 2016,
https://arxiv.org/abs/1511.06349) and EDA's random swap / random deletion (Wei & Zou 2019,
https://arxiv.org/abs/1901.11196). Every function takes a (B, L) int64 tensor whose real
tokens come first and PAD fills the rest, returns a new tensor of the same shape with the
same convention, and draws all randomness from the ``torch.Generator`` it is given.
"""

from __future__ import annotations

import torch


def _lengths(src: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B,) int64 number of non-PAD tokens per row (tokens are left-aligned)."""
    return (src != pad_id).sum(dim=1)


def token_dropout(src: torch.Tensor, p: float, g: torch.Generator, unk_id: int, pad_id: int = 0) -> torch.Tensor:
    """Replace each non-PAD token by ``unk_id`` with probability ``p``; (B, L) → (B, L)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"token dropout p must be in [0, 1], got {p}")
    drop = (torch.rand(src.shape, generator=g, device=src.device) < p) & (src != pad_id)
    return torch.where(drop, torch.full_like(src, unk_id), src)


def random_swap(src: torch.Tensor, n: int, g: torch.Generator, pad_id: int = 0) -> torch.Tensor:
    """Swap two random token positions of each row, ``n`` times (EDA's RS); (B, L) → (B, L).

    Positions are drawn within each row's own length, so PAD never moves; a row of one token
    is unchanged (its only swap is with itself).
    """
    if n < 0:
        raise ValueError(f"number of swaps must be ≥ 0, got {n}")
    out = src.clone()
    lengths = _lengths(src, pad_id).clamp(min=1)
    rows = torch.arange(src.shape[0], device=src.device)
    for _ in range(n):  # n is a handful; each round is one batched swap
        ij = (torch.rand(2, src.shape[0], generator=g, device=src.device) * lengths).long()
        a, b = out[rows, ij[0]], out[rows, ij[1]]
        out[rows, ij[0]], out[rows, ij[1]] = b, a
    return out


def random_deletion(src: torch.Tensor, p: float, g: torch.Generator, pad_id: int = 0) -> torch.Tensor:
    """Delete each non-PAD token with probability ``p`` and close the gaps (EDA's RD).

    (B, L) → (B, L): kept tokens keep their order, are shifted left, and PAD fills the rest.
    A row that would lose every token keeps one at random, as EDA does, so no row is empty.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"deletion p must be in [0, 1], got {p}")
    real = src != pad_id
    keep = (torch.rand(src.shape, generator=g, device=src.device) >= p) & real
    # Rows left empty: keep one uniformly chosen real token.
    empty = ~keep.any(dim=1) & real.any(dim=1)
    pick = (torch.rand(src.shape[0], generator=g, device=src.device) * _lengths(src, pad_id).clamp(min=1)).long()
    rows = torch.arange(src.shape[0], device=src.device)
    keep[rows, pick] |= empty  # a batch-wide update: a boolean-mask index would sync a GPU
    # A stable sort on "not kept" moves kept tokens to the front in their original order.
    order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices
    out = torch.gather(src, 1, order)
    n_kept = keep.sum(dim=1, keepdim=True)
    positions = torch.arange(src.shape[1], device=src.device)[None, :]
    return torch.where(positions < n_kept, out, torch.full_like(out, pad_id))
