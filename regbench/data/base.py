"""The data types every dataset and shift speaks.

A dataset loader returns a :class:`Loaded`: its :class:`DatasetInfo` and named *parts*
(``train``/``val``/``test`` for built-in data, the official splits for WILDS). A shift turns
a ``Loaded`` into :class:`Splits`. The trainer is handed ``Splits.training_data()`` — train
and val only — and the evaluator gets ``Splits.test_splits()`` after training ends, so no
code path lets training read a test example (docs/architecture.md, Pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

# What an input is, for regularizers that read it as one thing (``DatasetInfo.modality``):
# "image": x (N, C, H, W) in [0, 1]; "audio": x (N, 1, L) waveforms; "text": x (N, L) token ids.
MODALITIES = ("image", "audio", "text")


@dataclass(frozen=True)
class Examples:
    """A set of labelled examples held as tensors.

    x: (N, C, H, W) float32 images in [0, 1] (or (N, L) int64 token ids for sequences, or
    (N, 1, L) float32 mono waveforms for audio).
    y: (N,) int64 class labels (or (N, T) int64 target tokens for sequences).
    meta: per-example factors, each an (N,) tensor (e.g. ``colour``, ``group``, ``severity``).
    """

    x: torch.Tensor
    y: torch.Tensor
    meta: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.x)
        if len(self.y) != n or any(len(v) != n for v in self.meta.values()):
            sizes = {"x": n, "y": len(self.y), **{k: len(v) for k, v in self.meta.items()}}
            raise ValueError(f"Examples fields disagree on length: {sizes}")

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, index: torch.Tensor) -> Examples:
        """Examples at ``index`` ((M,) int64 or (N,) bool)."""
        return Examples(self.x[index], self.y[index], {k: v[index] for k, v in self.meta.items()})

    def replace(self, **changes: Any) -> Examples:
        """A copy with some of x, y, meta replaced."""
        return Examples(changes.get("x", self.x), changes.get("y", self.y), changes.get("meta", self.meta))


@dataclass(frozen=True)
class DatasetInfo:
    """What a model and the regularizers need to know about a dataset."""

    name: str
    num_classes: int
    input_shape: tuple[int, ...]  # (C, H, W) for images
    flip_invariant: bool = False  # may a horizontal flip be used as augmentation? never for digits
    factors: tuple[str, ...] = ()  # names of per-example metadata factors
    task: str = "classification"  # what the model predicts (regbench.tasks); set from the dataset's registration
    modality: str = "image"  # what x is (one of MODALITIES); set from the dataset's registration
    details: dict[str, Any] = field(default_factory=dict)  # provenance: source, root, generated or not


@dataclass(frozen=True)
class Loaded:
    """A dataset as loaded: its info and named parts (e.g. train/val/test)."""

    info: DatasetInfo
    parts: dict[str, Examples]


@dataclass(frozen=True)
class TrainingData:
    """The only data the trainer ever receives."""

    train: Examples
    val: Examples
    info: DatasetInfo


@dataclass(frozen=True)
class Splits:
    """A benchmark's splits: train, val (ID), test_id and the OOD test splits.

    ``split_info`` maps a test split name to what describes it for the report:
    ``{"shift": "gaussian_noise", "severity": 3, "tv_distance": 0.2, "family": "covariate"}``.
    """

    train: Examples
    val: Examples
    test_id: Examples
    ood: dict[str, Examples]
    info: DatasetInfo
    split_info: dict[str, dict[str, Any]] = field(default_factory=dict)

    def training_data(self) -> TrainingData:
        return TrainingData(self.train, self.val, self.info)

    def test_splits(self) -> dict[str, Examples]:
        """``{"test_id": …, "ood/<name>": …}`` — for the evaluator only."""
        return {"test_id": self.test_id, **{f"ood/{k}": v for k, v in self.ood.items()}}

    def all_named(self) -> dict[str, Examples]:
        """Every split by name (for the cache and `regbench data prepare`)."""
        return {"train": self.train, "val": self.val, **self.test_splits()}
