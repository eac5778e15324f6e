"""The shift contract: a pure, seeded function from a loaded dataset to splits.

A shift family is one registered subclass of :class:`Shift` with a pydantic ``Params``
model (unknown keys are errors) and an ``apply`` that builds train / val / test_id and the
named OOD test splits. Validation data is always in-distribution: a shift never lets a
choice made on ``val`` see the OOD distribution (ImageNet-C keeps its validation
corruptions disjoint from its test corruptions for the same reason).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from regbench.params import StrictNumbers

if TYPE_CHECKING:  # torch's types: this module is imported when a suite is checked, without torch
    from regbench.data.base import Examples, Loaded, Splits


class ShiftParams(StrictNumbers):
    """Base of every shift's parameter model: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def training_envs(self) -> int:
        """How many training environments a shift with these parameters declares (1: none).

        A method of the parameters, not of the shift, so that a suite is checked against it
        without the shift's module (and torch): ``Shift.training_envs`` asks it.
        """
        return 1


class PooledShiftParams(ShiftParams):
    """Parameters of a family that builds its test splits from the held-out test part."""

    # "shard": this family's own shard of the held-out images, disjoint from the other
    # families' (shifts/held_out.py); "whole": all of them, for a suite of one family whose
    # numbers need every test image (capacity's ID accuracy curve)
    held_out: Literal["shard", "whole"] = "shard"
    # at most this many held-out images (a class-stratified subset of the shard): for a pool
    # generated larger than this family needs, so evaluation stays cheap; None keeps the shard
    test_size: int | None = Field(None, ge=1)


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
        environments on a benchmark without them. Its parameters' answer
        (:meth:`ShiftParams.training_envs`): the built-in families declare it there only.
        """
        return self.params.training_envs()

    def apply(self, loaded: Loaded, seed: int) -> Splits:  # pragma: no cover - interface
        raise NotImplementedError

    def test_part(self, pool: Examples, seed: int, whole: str | None = None) -> tuple[Examples, dict[str, Any]]:
        """The held-out images this benchmark tests on, and how they were chosen (split_info).

        ``pool`` is the dataset's test part; ``whole`` names a reason to keep all of it. The
        part carries ``meta["image_id"]``, the cluster id of every image (shifts/held_out.py).
        """
        from regbench.shifts.held_out import held_out_part  # torch: only once splits are built

        if getattr(self.params, "held_out", "shard") == "whole":
            whole = whole or "held_out: whole"
        return held_out_part(pool, self.family, seed, whole, getattr(self.params, "test_size", None))

    def build(self, loaded: Loaded, seed: int) -> Splits:
        """``apply``, then ``unique_images`` in ``split_info`` for test_id and every OOD split.

        Counted here, once for every family, so that no shift can forget it and the number
        reaches the store (the evaluator records it per split).
        """
        from regbench.shifts.held_out import record_unique_images

        splits = self.apply(loaded, seed)
        record_unique_images(splits.split_info, {"test_id": splits.test_id, **splits.ood})
        return splits


def base_splits(loaded: Loaded) -> tuple:
    """(train, val, test) parts of a built-in dataset, with a clear error if one is missing."""
    missing = [p for p in ("train", "val", "test") if p not in loaded.parts]
    if missing:
        raise ValueError(f"dataset '{loaded.info.name}' has no part(s) {missing}; parts: {sorted(loaded.parts)}")
    return loaded.parts["train"], loaded.parts["val"], loaded.parts["test"]
