"""Seeded stratified splitting of a pool of examples into named parts."""

from __future__ import annotations

import torch

from regbench.data.base import Examples
from regbench.seeding import torch_generator


def stratified_parts(pool: Examples, fractions: dict[str, float], seed: int) -> dict[str, Examples]:
    """Split ``pool`` by class into ``fractions`` (e.g. {"val": .2, "test": .25}) and "train".

    Every class contributes ``round(frac · n_class)`` examples to each named part; the rest
    go to ``train``. The permutation comes from ``derive_seed(seed, "split")`` alone.
    """
    if sum(fractions.values()) >= 1.0 or any(f < 0 for f in fractions.values()):
        raise ValueError(f"split fractions must be ≥ 0 and sum below 1, got {fractions}")
    g = torch_generator(seed, "split")
    chosen: dict[str, list[torch.Tensor]] = {name: [] for name in [*fractions, "train"]}
    for c in torch.unique(pool.y).tolist():
        idx = torch.nonzero(pool.y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        start = 0
        for name, frac in fractions.items():
            k = int(round(frac * len(idx)))
            chosen[name].append(idx[start : start + k])
            start += k
        chosen["train"].append(idx[start:])
    return {name: pool.subset(torch.sort(torch.cat(parts)).values) for name, parts in chosen.items()}
