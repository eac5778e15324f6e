"""The covariate family's parameters (``shifts.covariate``): corruption names are checked
against ``shifts.corruption_names``, not the corruption functions (torch)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from regbench.registry import UnknownNameError
from regbench.shifts.base import PooledShiftParams
from regbench.shifts.corruption_names import CORRUPTION_NAMES, REQUIRES_RGB, VALIDATION_CORRUPTIONS

# ImageNet-C's test corruptions that regbench ports and that work on any channel count;
# the validation corruptions are left out so that they stay free for model selection.
# Rotation is offered as domains (``angles``) rather than as a default corruption.
_NOT_DEFAULT = {*VALIDATION_CORRUPTIONS, *REQUIRES_RGB, "rotate"}
DEFAULT_CORRUPTIONS = [name for name in CORRUPTION_NAMES if name not in _NOT_DEFAULT]


class CovariateParams(PooledShiftParams):
    """Which corruptions, at which severities, and which rotation angles (degrees)."""

    corruptions: list[str] = Field(default_factory=lambda: list(DEFAULT_CORRUPTIONS))
    severities: list[Annotated[int, Field(ge=1, le=5)]] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    angles: list[float] | None = None  # each angle → OOD split "rotate_<angle>"
    # "calibrated": the dataset's measured severity scale (corruptions.DATASET_SCALES);
    # "cifar10c": CIFAR-10-C's parameters as published, on any dataset
    severity_table: Literal["calibrated", "cifar10c"] = "calibrated"

    @field_validator("corruptions")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        for name in names:
            if name not in CORRUPTION_NAMES:
                # pydantic reports ValueError with the field path; UnknownNameError builds the hint
                raise ValueError(str(UnknownNameError("corruption", name, sorted(CORRUPTION_NAMES))))
        _no_duplicates("corruptions", names)
        return names

    @field_validator("severities", "angles")
    @classmethod
    def _unique(cls, values, info):
        if values is not None:
            _no_duplicates(info.field_name, values)
        return values

    @model_validator(mode="after")
    def _some_ood(self) -> CovariateParams:
        if not (self.corruptions and self.severities) and not self.angles:
            raise ValueError(
                "covariate shift needs corruptions × severities or angles (use kind 'none' for no OOD splits)"
            )
        return self


def _no_duplicates(field: str, values: list) -> None:
    dups = sorted({v for v in values if values.count(v) > 1}, key=str)
    if dups:
        raise ValueError(f"{field} has duplicates {dups}; each names one OOD split")
