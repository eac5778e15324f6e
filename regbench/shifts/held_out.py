"""Which held-out test images a shift family's benchmark evaluates on (docs/metrics.md, "Held-out shards").

The covariate, label and spurious families all make their OOD splits from the dataset's
held-out test part: corrupted, resampled to a prior, or recoloured. If every family used the
whole part, the digits-c, digits-labelshift and colored_mnist benchmarks would score the same
450 images, and part of any correlation between their numbers would be the images, not the
models. So, when the pool is large enough, the test part is dealt into disjoint shards, one per
family, by one seeded permutation per class that depends on the data seed alone, so every
benchmark of a suite sees the same partition. A family's benchmark takes its test_id *and*
its OOD splits from its own shard: CIFAR-10-C's convention (a corruption applies to the test
set of its own benchmark) holds inside each benchmark.

Shares: label shift gets two, covariate and spurious one each (``SHARES``). A label-shift
split can only keep what its concentrated prior allows of the shard's largest class, while
the other families use every image of their shard. A pool too small for a shard of
``MIN_SHARD_IMAGES`` in every family is not split: every family uses all of it, and
``split_info`` says so (``held_out: "shared"``). Families outside ``SHARES`` (compositional,
drift, none, ...) and published OOD files (CIFAR-10-C's .npy, which index the whole test set)
keep the whole part too.

Every test example carries ``meta["image_id"]`` (``IMAGE_ID``): the index of the base image it
was made from in the dataset's held-out part. Corrupted, resampled and recoloured copies keep
it, so statistics can resample base images as clusters jointly across a benchmark's splits.
A loader that draws several images from one base image (``digits_large``'s warps, recorded
as ``meta["source_index"]``) gives them one id: they share a writer, they are one cluster.
"""

from __future__ import annotations

from typing import Any

import torch

from regbench.data.base import Examples
from regbench.seeding import torch_generator
from regbench.shifts.shards import RULE, SHARES  # noqa: F401  (RULE re-exported: the held-out rule's home)

MIN_SHARD_IMAGES = 100  # a shard smaller than this would make every test number noise: share instead
IMAGE_ID = "image_id"  # meta key of the cluster id: the base image a test example was made from


def shard_bounds(n: int) -> dict[str, tuple[float, float]]:
    """Each family's [start, end) fraction of a class's images, in ``SHARES`` order."""
    total, start, out = sum(SHARES.values()), 0, {}
    for family, share in SHARES.items():
        out[family] = (start / total, (start + share) / total)
        start += share
    return out


def shards_allowed(pool: Examples) -> bool:
    """True when every family's shard of ``pool`` would hold at least ``MIN_SHARD_IMAGES``."""
    smallest = min(SHARES.values()) / sum(SHARES.values())
    return int(len(pool) * smallest) >= MIN_SHARD_IMAGES


def family_index(pool: Examples, family: str, seed: int) -> torch.Tensor:
    """(M,) sorted int64 indices of ``pool`` in ``family``'s shard, stratified by class.

    Each class's images are permuted by ``torch_generator(seed, "held_out_shards", class)``
    (the family does not enter the seed: the shards of one pool are a partition) and cut at
    the cumulative shares, so every shard keeps the pool's class proportions.
    """
    lo, hi = shard_bounds(len(pool))[family]
    chosen = []
    for c in torch.unique(pool.y).tolist():
        idx = torch.nonzero(pool.y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=torch_generator(seed, "held_out_shards", c))]
        chosen.append(idx[round(lo * len(idx)) : round(hi * len(idx))])
    return torch.sort(torch.cat(chosen)).values


def with_image_ids(pool: Examples) -> Examples:
    """``pool`` with ``meta["image_id"]`` (N,) int64: its ``source_index`` when the loader made
    several images of one base image, else 0..N-1 (every image its own cluster). Kept if present."""
    if IMAGE_ID in pool.meta:
        return pool
    ids = pool.meta.get("source_index", torch.arange(len(pool)))
    return pool.replace(meta={**pool.meta, IMAGE_ID: ids.clone().long()})


def stratified_subset(ex: Examples, size: int, seed: int) -> Examples:
    """At most ``size`` examples of ``ex``, each class in proportion (largest remainder), in ``ex``'s order.

    Each class's pick is a prefix of a permutation by ``torch_generator(seed, "held_out_subset",
    class)``, so a larger ``size`` keeps every image a smaller one chose.
    """
    if size >= len(ex):
        return ex
    classes, counts = torch.unique(ex.y, return_counts=True)
    exact = counts.double() * size / len(ex)
    take = exact.floor().long()
    order = torch.argsort(-(exact - take), stable=True)
    take[order[: size - int(take.sum())]] += 1
    chosen = []
    for c, k in zip(classes.tolist(), take.tolist()):
        idx = torch.nonzero(ex.y == c).flatten()
        chosen.append(idx[torch.randperm(len(idx), generator=torch_generator(seed, "held_out_subset", c))[:k]])
    return ex.subset(torch.sort(torch.cat(chosen)).values)


def stratified_halves(ex: Examples, seed: int) -> tuple[Examples, Examples]:
    """``ex`` cut into two disjoint parts, each class's images halved (the first gets the odd one).

    The cut follows ``torch_generator(seed, "held_out_halves", class)``; both parts keep ``ex``'s order.
    """
    first, second = [], []
    for c in torch.unique(ex.y).tolist():
        idx = torch.nonzero(ex.y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=torch_generator(seed, "held_out_halves", c))]
        cut = (len(idx) + 1) // 2
        first.append(idx[:cut])
        second.append(idx[cut:])
    return tuple(ex.subset(torch.sort(torch.cat(part)).values) for part in (first, second))  # type: ignore[return-value]


def held_out_part(
    pool: Examples, family: str, seed: int, whole: str | None = None, size: int | None = None
) -> tuple[Examples, dict[str, Any]]:
    """The test part a ``family`` benchmark uses, and how it was chosen (for ``split_info``).

    ``pool`` is the dataset's test part (N examples); ``whole`` names a reason to keep all of
    it (e.g. published OOD files aligned with it); ``size`` caps the part at a class-stratified
    subset (``stratified_subset``), for a pool larger than the benchmark needs. Returns (the
    part, info) where info holds ``held_out`` ("shard" | "shared" | "whole"), ``held_out_pool``
    (N) and the reason. The part carries ``meta["image_id"]`` (``with_image_ids``).
    """
    part, info = _held_out_part(with_image_ids(pool), family, seed, whole)
    if size is not None and size < len(part):
        part, info = stratified_subset(part, size, seed), {**info, "held_out_size": size}
    return part, info


def _held_out_part(pool: Examples, family: str, seed: int, whole: str | None) -> tuple[Examples, dict[str, Any]]:
    info: dict[str, Any] = {"held_out_pool": len(pool), "held_out_rule": RULE}
    if whole is not None or family not in SHARES:
        return pool, {**info, "held_out": "whole", "held_out_reason": whole or f"family {family} is not sharded"}
    if not shards_allowed(pool):
        reason = f"{len(pool)} held-out images leave a shard under {MIN_SHARD_IMAGES}"
        return pool, {**info, "held_out": "shared", "held_out_reason": reason}
    index = family_index(pool, family, seed)
    return pool.subset(index), {**info, "held_out": "shard", "held_out_shard": family}


def unique_images(ex: Examples) -> int:
    """How many distinct inputs a split holds (rows of x that differ); x (N, ...)."""
    if len(ex) == 0:
        return 0
    return int(torch.unique(ex.x.flatten(1), dim=0).shape[0])


def distinct_image_ids(ex: Examples) -> int | None:
    """How many base images (``meta["image_id"]`` clusters) a split holds; None without ids."""
    ids = ex.meta.get(IMAGE_ID)
    return None if ids is None else int(torch.unique(ids).numel())


def record_unique_images(split_info: dict[str, dict[str, Any]], tests: dict[str, Examples]) -> None:
    """Fill ``unique_images`` and ``base_images`` (distinct ``image_id``s, when the split has
    them) for every test split (``{"test_id": …, "<ood name>": …}``) in place."""
    for name, ex in tests.items():
        entry = split_info.setdefault(name, {})
        entry.setdefault("unique_images", unique_images(ex))
        bases = distinct_image_ids(ex)
        if bases is not None:
            entry.setdefault("base_images", bases)
