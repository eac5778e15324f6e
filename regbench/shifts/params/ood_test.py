"""The ``ood_test`` shift's parameters (``shifts.ood_test``)."""

from __future__ import annotations

from pydantic import Field

from regbench.shifts.base import ShiftParams


class OODTestParams(ShiftParams):
    """``id_fraction`` of train becomes test_id; the OOD split is named ``name`` in family ``family``.

    ``name`` None takes the loader's ``details["split"]`` (SCAN: ``addprim_jump``, ``length``).
    """

    id_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    family: str = "compositional"
    name: str | None = None
