"""Compositional shift on ``shapes``: unseen combinations of seen factors, and size extrapolation.

Two OOD splits, each testing one kind of generalisation that i.i.d. test sets cannot see
(cf. Schott et al. 2022, "Visual Representation Learning Does Not Generalize Strongly Within
the Same Domain", https://arxiv.org/abs/2107.08221, on dSprites-style factors):

- ``heldout_combinations``: a seeded set of (shape, colour) combinations never appears in
  train/val/test_id, although every shape and every colour does. The held-out cells are the
  first cells of the generalised diagonals of the shape × colour grid (a Latin-square-like
  design), under random permutations of shapes and colours, so each shape and each colour
  loses ⌊h/S⌋ or ⌈h/S⌉ (⌊h/C⌋ or ⌈h/C⌉) of its combinations and keeps at least one.
  Held-out examples of *all* loaded parts go to this split: none of them is ever trained on,
  and pooling them gives a test set as large as the parts' share of those combinations.
- ``size_extrapolation`` (when ``extrapolate_size``): train/val/test_id are re-rendered with
  sizes mapped into the middle half of the dataset's size range; the OOD split re-renders
  the test part's seen-combination examples with sizes outside it (small and large).
  ``heldout_combinations`` is then re-rendered at training sizes, so it shifts one thing.

Every example carries ``meta["image_id"]`` (the cluster id of shifts/held_out.py): test_id and
size_extrapolation share ids (one image, two renderings); the held-out combinations pooled from
train and val get ids after the test part's.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from regbench.data.base import Examples, Loaded, Splits
from regbench.data.shapes import FACTORS, render_shapes
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.compositional import CompositionalParams
from regbench.shifts.held_out import IMAGE_ID, stratified_subset

TRAIN_SIZE_BAND = (0.25, 0.75)  # train sizes: this sub-interval of the size range, as fractions of it


def heldout_cells(num_shapes: int, num_colours: int, fraction: float, g: torch.Generator) -> torch.Tensor:
    """Held-out (shape, colour) combinations: (S, C) bool table with round(fraction·S·C) cells set.

    Cells are taken in the order of the g = gcd(S, C) generalised diagonals
    {(t mod S, (t + d) mod C) : 0 ≤ t < lcm(S, C)}, d = 0..g-1, which partition the grid and
    visit rows and columns in turn; so any prefix is balanced over rows and over columns.
    """
    s, c = num_shapes, num_colours
    h = round(fraction * s * c)
    limit = min(s * (c - 1), c * (s - 1))  # beyond this some shape or colour would vanish from training
    if not 1 <= h <= limit:
        raise ValueError(
            f"holdout_fraction={fraction} holds out {h} of {s}×{c} combinations; it must hold out "
            f"between 1 and {limit} so that every shape and colour keeps a training combination"
        )
    lcm = s * c // math.gcd(s, c)
    t = torch.arange(s * c)
    d, t = t // lcm, t % lcm
    rows, cols = (t % s)[:h], ((t + d) % c)[:h]
    shape_perm, colour_perm = torch.randperm(s, generator=g), torch.randperm(c, generator=g)
    table = torch.zeros(s, c, dtype=torch.bool)
    table[shape_perm[rows], colour_perm[cols]] = True
    if table.all(dim=1).any() or table.all(dim=0).any():  # guaranteed by the construction; cheap to check
        raise RuntimeError(f"held-out design lost a whole shape or colour: {table.int().tolist()}")
    return table


def concat(parts: list[Examples]) -> Examples:
    """Examples of several sets, in order (meta keys of the first)."""
    keys = parts[0].meta.keys()
    return Examples(
        torch.cat([p.x for p in parts]),
        torch.cat([p.y for p in parts]),
        {k: torch.cat([p.meta[k] for p in parts]) for k in keys},
    )


def rerender(ex: Examples, size: torch.Tensor) -> Examples:
    """The same shapes re-rendered at new sizes (N,): x and meta["size"] replaced."""
    m = {**ex.meta, "size": size}
    x = render_shapes(m["shape"], m["colour"], size, m["pos_x"], m["pos_y"], m["background"], ex.x.shape[-1])
    return Examples(x, ex.y, m)


@register_shift("compositional")
class Compositional(Shift):
    """Held-out (shape, colour) combinations and size extrapolation (arXiv:2107.08221)."""

    family = "compositional"
    Params = CompositionalParams

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """train/val/test_id: seen combinations (middle sizes); OOD: held-out combos, extreme sizes."""
        p: CompositionalParams = self.params  # type: ignore[assignment]
        parts = base_splits(loaded)
        details = loaded.info.details
        need = ("shapes", "colours", "size_range")
        if any(f not in ex.meta for ex in parts for f in FACTORS) or any(k not in details for k in need):
            raise ValueError(
                f"compositional shift needs dataset 'shapes' (meta {list(FACTORS)}); got dataset "
                f"'{loaded.info.name}' with meta {sorted(parts[0].meta)}"
            )
        s, c = len(details["shapes"]), len(details["colours"])
        held = heldout_cells(s, c, p.holdout_fraction, torch_generator(seed, "shift", "compositional"))
        # image ids (the cluster ids of shifts/held_out.py): test 0.., then val, then train, so
        # the held-out combinations pooled from every part keep distinct ids
        offsets = {"test": 0, "val": len(parts[2]), "train": len(parts[2]) + len(parts[1])}
        tagged = [
            ex.replace(
                meta={
                    **ex.meta,
                    "group": ex.meta["shape"] * c + ex.meta["colour"],
                    IMAGE_ID: offsets[name] + torch.arange(len(ex)),
                }
            )
            for name, ex in zip(("train", "val", "test"), parts)
        ]
        is_held = [held[ex.meta["shape"], ex.meta["colour"]] for ex in tagged]
        train, val, test = (ex.subset(~h) for ex, h in zip(tagged, is_held))
        if p.test_size is not None:
            test = stratified_subset(test, p.test_size, seed)
        ood = {"heldout_combinations": concat([ex.subset(h) for ex, h in zip(tagged, is_held)])}
        cells = torch.nonzero(held).tolist()
        base_info = {"family": self.family, "holdout_fraction": p.holdout_fraction}
        split_info: dict[str, dict[str, Any]] = {
            "test_id": {**base_info, "shift": "none"},
            "heldout_combinations": {
                **base_info,
                "shift": "heldout_combinations",
                "combinations": [[details["shapes"][i], details["colours"][j]] for i, j in cells],
                "heldout_share": len(cells) / (s * c),
            },
        }
        if p.extrapolate_size:
            lo, hi = details["size_range"]
            band_lo, band_hi = (lo + f * (hi - lo) for f in TRAIN_SIZE_BAND)
            if not hi > lo:
                raise ValueError(f"size extrapolation needs a size range with size_max > size_min, got {[lo, hi]}")

            def relative(ex: Examples) -> torch.Tensor:  # position of each size in [lo, hi] → [0, 1]
                return ((ex.meta["size"] - lo) / (hi - lo)).clamp(0, 1)

            def to_band(ex: Examples) -> Examples:
                return rerender(ex, band_lo + relative(ex) * (band_hi - band_lo))

            # Affine maps keep each example's relative size, so no new randomness is drawn.
            r = relative(test)
            small = lo + 2 * r * (band_lo - lo)  # r in [0, ½) → [lo, band_lo)
            large = band_hi + (2 * r - 1) * (hi - band_hi)  # r in [½, 1] → [band_hi, hi]
            ood["size_extrapolation"] = rerender(test, torch.where(r < 0.5, small, large))
            # Held-out combinations get training sizes too, so that split tests combination alone.
            train, val, test = to_band(train), to_band(val), to_band(test)
            ood["heldout_combinations"] = to_band(ood["heldout_combinations"])
            split_info["size_extrapolation"] = {
                **base_info,
                "shift": "size_extrapolation",
                "train_size_range": [band_lo, band_hi],
                "ood_size_ranges": [[lo, band_lo], [band_hi, hi]],
            }
        return Splits(train, val, test, ood, loaded.info, split_info)
