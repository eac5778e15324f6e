"""Concept drift: P(y | x) changes over time while P(x) stays put.

A seeded set of classes is paired up, and in later "time slices" a growing share of the
examples of those classes carry their partner's label (a real-concept drift in the sense of
Gama et al. 2014, "A Survey on Concept Drift Adaptation", doi:10.1145/2523813; label
swapping is the usual synthetic form of it). Spec, with K classes and T = ``slices``:

- swapped classes: 2·max(1, round(swap_fraction · K / 2)) of them, in seeded pairs (a ↔ b);
- slice t = 1..T: the whole test part, where exactly round(t/T · M) of the M examples of
  swapped classes are relabelled to their partner class. The relabelled sets are nested
  (slice t+1 keeps slice t's changes), so drift grows monotonically; with balanced classes
  the relabelled fraction of slice t is ≈ t/T · s, where s = (swapped classes)/K is
  swap_fraction rounded to whole pairs (K = 10, swap_fraction 0.2: one pair, s = 0.2).

train, val and test_id carry none of it. A model that is perfect in-distribution scores
1 − (relabelled fraction) on each slice; ``split_info`` records that fraction.
"""

from __future__ import annotations

from typing import Any

import torch

from regbench.data.base import Examples, Loaded, Splits
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.drift import DriftParams


def swap_pairs(num_classes: int, swap_fraction: float, g: torch.Generator) -> torch.Tensor:
    """(K,) int64 partner map: partner[a] = b and partner[b] = a for swapped pairs, else identity."""
    pairs = max(1, round(swap_fraction * num_classes / 2))
    if num_classes < 2 or 2 * pairs > num_classes:
        raise ValueError(f"drift swaps {2 * pairs} classes but the dataset has only {num_classes}")
    chosen = torch.randperm(num_classes, generator=g)[: 2 * pairs].view(pairs, 2)
    partner = torch.arange(num_classes)
    partner[chosen[:, 0]], partner[chosen[:, 1]] = chosen[:, 1], chosen[:, 0]
    return partner


@register_shift("drift")
class ConceptDrift(Shift):
    """Growing label swaps between paired classes over time slices (Gama et al. 2014)."""

    family = "drift"
    Params = DriftParams

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """train/val/test_id as loaded; OOD ``slice_1`` … ``slice_T`` with nested relabelling."""
        p: DriftParams = self.params  # type: ignore[assignment]
        train, val, test = base_splits(loaded)
        if test.y.dim() != 1:
            raise ValueError(f"drift relabels class labels (N,); got y of shape {tuple(test.y.shape)}")
        g = torch_generator(seed, "shift", "drift")
        partner = swap_pairs(loaded.info.num_classes, p.swap_fraction, g)
        swappable = torch.nonzero(partner[test.y] != test.y).flatten()  # examples of swapped classes
        order = swappable[torch.randperm(len(swappable), generator=g)]  # relabelling order, shared by slices
        pairs = [[a, b] for a, b in enumerate(partner.tolist()) if a < b]
        swapped_share = 2 * len(pairs) / loaded.info.num_classes  # swap_fraction rounded to whole pairs
        ood: dict[str, Examples] = {}
        split_info: dict[str, dict[str, Any]] = {
            "test_id": {"family": self.family, "shift": "none", "relabelled_fraction": 0.0}
        }
        for t in range(1, p.slices + 1):
            flip = order[: round(t / p.slices * len(order))]
            y = test.y.clone()
            y[flip] = partner[test.y[flip]]
            relabelled = (y != test.y).to(torch.int64)
            name = f"slice_{t}"
            ood[name] = Examples(test.x, y, {**test.meta, "original_label": test.y, "relabelled": relabelled})
            split_info[name] = {
                "family": self.family,
                "shift": "label_swap",
                "slice": t,
                "severity": t,  # drift grows with t, like a corruption severity
                "slices": p.slices,
                "swapped_pairs": pairs,
                "swapped_class_relabel_rate": len(flip) / max(len(order), 1),  # ≈ t / slices
                "swapped_class_fraction": swapped_share,
                "target_fraction": t / p.slices * swapped_share,  # exact for balanced classes
                "relabelled_fraction": float(relabelled.double().mean()) if len(y) else 0.0,
            }
        return Splits(train, val, test, ood, loaded.info, split_info)
