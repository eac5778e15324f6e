"""Training-set options any suite can use: label noise and bootstrap resampling.

Both act on the training split only (validation stays clean, so selection is honest) and
are seeded from the benchmark's data seed — the *same* noisy labels for every run seed —
except bootstrap resampling, which is seeded by the run seed on purpose: it makes the
variance term of the bias–variance decomposition include "a different training set".
"""

from __future__ import annotations

import torch

from regbench.config import TrainSpec
from regbench.data.base import Examples, Splits, TrainingData
from regbench.seeding import torch_generator


def symmetric_noise(y: torch.Tensor, rate: float, num_classes: int, g: torch.Generator) -> torch.Tensor:
    """Replace a ``rate`` fraction of labels with a uniformly drawn *different* class. y (N,) → (N,)."""
    n = len(y)
    flip = torch.randperm(n, generator=g)[: int(round(rate * n))]
    offset = torch.randint(1, num_classes, (len(flip),), generator=g)
    out = y.clone()
    out[flip] = (y[flip] + offset) % num_classes
    return out


def class_conditional_noise(y: torch.Tensor, rate: float, num_classes: int, g: torch.Generator) -> torch.Tensor:
    """Flip a ``rate`` fraction of each class's labels to one fixed other class (c → c+1 mod K),
    the pair-flip noise of Han et al. 2018 (arXiv:1804.06872). y (N,) → (N,)."""
    out = y.clone()
    for c in range(num_classes):
        idx = torch.nonzero(y == c).flatten()
        chosen = idx[torch.randperm(len(idx), generator=g)[: int(round(rate * len(idx)))]]
        out[chosen] = (c + 1) % num_classes
    return out


def apply_training_options(splits: Splits, train: TrainSpec, data_seed: int, run_seed: int) -> TrainingData:
    """The :class:`TrainingData` of a run after label noise and bootstrap resampling."""
    tr: Examples = splits.train
    k = splits.info.num_classes
    if train.label_noise > 0:
        g = torch_generator(data_seed, "label_noise")
        noisy = (symmetric_noise if train.label_noise_kind == "symmetric" else class_conditional_noise)(
            tr.y, train.label_noise, k, g
        )
        tr = tr.replace(y=noisy, meta={**tr.meta, "clean_label": tr.y})
    if train.data_resample == "bootstrap":
        g = torch_generator(data_seed, run_seed, "bootstrap")
        tr = tr.subset(torch.randint(0, len(tr), (len(tr),), generator=g))
    return TrainingData(tr, splits.val, splits.info)
