"""Shift kind ``ood_test``: the dataset's own test part *is* the shift; test_id is held out.

For datasets whose official split is already out of distribution — SCAN's ``addprim_jump``
(test = every composed command with "jump") and ``length`` (test = longer action
sequences), Lake & Baroni 2018 (https://arxiv.org/abs/1711.00350) — nothing is generated.
The test part becomes the OOD split, and an in-distribution test split is drawn from
train: a seeded ``id_fraction`` of the training examples whose input occurs once there, so
that no test_id input is also a training input (SCAN's ``addprim_jump`` repeats "jump"
1,467 times; it stays in train). Validation (the dataset's ``val`` part, drawn from train
the same way by the loader) never sees the OOD distribution.
"""

from __future__ import annotations

import torch

from regbench.data.base import Loaded, Splits
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.ood_test import OODTestParams


def unique_rows(x: torch.Tensor) -> torch.Tensor:
    """(M,) int64 indices of the rows of (N, …) ``x`` that occur exactly once in ``x``."""
    _, inverse, counts = torch.unique(x.reshape(len(x), -1), dim=0, return_inverse=True, return_counts=True)
    return torch.nonzero(counts[inverse] == 1).flatten()


@register_shift("ood_test")
class OODTest(Shift):
    """Test part → the OOD split; a seeded held-out part of train → test_id."""

    family = "compositional"
    Params = OODTestParams

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        p: OODTestParams = self.params  # type: ignore[assignment]
        train, val, test = base_splits(loaded)
        single = unique_rows(train.x)
        k = round(p.id_fraction * len(train))
        if k < 1 or k > len(single):
            raise ValueError(
                f"ood_test: cannot hold out {k} of {len(train)} training examples as test_id "
                f"({len(single)} have an input that occurs once); change id_fraction"
            )
        g = torch_generator(seed, "ood_test-id")
        held = single[torch.randperm(len(single), generator=g)[:k]]
        keep = torch.ones(len(train), dtype=torch.bool)
        keep[held] = False
        name = p.name or str(loaded.info.details.get("split", "test"))
        return Splits(
            train=train.subset(torch.nonzero(keep).flatten()),
            val=val,
            test_id=train.subset(torch.sort(held).values),
            ood={name: test},
            info=loaded.info,
            split_info={name: {"family": p.family, "shift": name}},
        )
