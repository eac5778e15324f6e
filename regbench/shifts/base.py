"""The shift contract: a pure, seeded function from a loaded dataset to splits.

A shift family is one registered subclass of :class:`Shift` with a pydantic ``Params``
model (unknown keys are errors) and an ``apply`` that builds train / val / test_id and the
named OOD test splits. Validation data is always in-distribution: a shift never lets a
choice made on ``val`` see the OOD distribution (ImageNet-C keeps its validation
corruptions disjoint from its test corruptions for the same reason).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict

from regbench.data.base import Loaded, Splits
from regbench.params import StrictNumbers


class ShiftParams(StrictNumbers):
    """Base of every shift's parameter model: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Shift:
    """Turns a :class:`Loaded` dataset into :class:`Splits`.

    Subclasses set ``family`` (covariate | label | spurious | compositional | drift | none),
    a ``Params`` model, and implement ``apply``.
    """

    family: ClassVar[str] = "none"
    Params: ClassVar[type[ShiftParams]] = ShiftParams
    # True: train and val are the dataset's own parts, so the loader's meta["env"] (and its
    # declared training_envs) pass through (predefined, none)
    keeps_dataset_envs: ClassVar[bool] = False

    def __init__(self, params: ShiftParams | dict[str, Any] | None = None):
        self.params = params if isinstance(params, ShiftParams) else self.Params(**(params or {}))

    def training_envs(self) -> int:
        """How many training environments the splits' ``meta["env"]`` holds (1: none declared).

        Read when a suite loads, before any data, to refuse a regularizer that needs
        environments on a benchmark without them.
        """
        return 1

    def apply(self, loaded: Loaded, seed: int) -> Splits:  # pragma: no cover - interface
        raise NotImplementedError


def base_splits(loaded: Loaded) -> tuple:
    """(train, val, test) parts of a built-in dataset, with a clear error if one is missing."""
    missing = [p for p in ("train", "val", "test") if p not in loaded.parts]
    if missing:
        raise ValueError(f"dataset '{loaded.info.name}' has no part(s) {missing}; parts: {sorted(loaded.parts)}")
    return loaded.parts["train"], loaded.parts["val"], loaded.parts["test"]
