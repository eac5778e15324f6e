"""The ``predefined`` shift's parameters (``shifts.predefined``)."""

from __future__ import annotations

from regbench.shifts.base import ShiftParams


class PredefinedParams(ShiftParams):
    """Which loaded parts play which role.

    ``val_part`` / ``test_id_part``: None takes the loader's ``details["roles"]`` (WILDS:
    ``id_val``/``val`` and ``id_test``), else ``"val"`` / ``"test"``.
    ``ood_parts``: None takes every part that is not train, val or test_id.
    """

    ood_parts: list[str] | None = None
    val_part: str | None = None
    test_id_part: str | None = None
