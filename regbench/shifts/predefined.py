"""Shift kind ``predefined``: the dataset already ships its OOD test sets as parts.

For CIFAR-10-C (parts ``c/<corruption>/<severity>``, OOD splits ``<corruption>/<severity>``
as the covariate shift names its generated ones), WILDS (its official OOD splits) and
``hf:`` datasets with extra splits, nothing is generated: the loaded parts are mapped to
:class:`Splits`. ``split_info`` comes from the part name (``c/<name>/<severity>`` → family
``covariate``) or from the loader's ``DatasetInfo.details["split_info"]``.
"""

from __future__ import annotations

import re
from typing import Any

from regbench.data.base import Loaded, Splits
from regbench.shifts import register_shift
from regbench.shifts.base import Shift
from regbench.shifts.params.predefined import PredefinedParams

_CORRUPTED = re.compile(r"^c/(?P<name>[^/]+)/(?P<severity>[1-5])$")


def ood_name(part: str) -> str:
    """OOD split name of a part: ``c/fog/3`` → ``fog/3`` (as the covariate shift names it)."""
    return part[2:] if _CORRUPTED.match(part) else part


def part_split_info(part: str, loader_info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the report says about one OOD part."""
    m = _CORRUPTED.match(part)
    if m:
        return {"family": "covariate", "shift": m["name"], "severity": int(m["severity"]), "source": "published"}
    return {"family": "predefined", "shift": part, **loader_info.get(part, {})}


@register_shift("predefined")
class Predefined(Shift):
    """Map a dataset's own parts (official OOD splits, published corruptions) to Splits."""

    family = "predefined"
    Params = PredefinedParams
    keeps_dataset_envs = True

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """Pure: ``seed`` is unused because the parts are fixed by the loader."""
        p: PredefinedParams = self.params  # type: ignore[assignment]
        roles = loaded.info.details.get("roles", {})
        val = p.val_part or roles.get("val", "val")
        test_id = p.test_id_part or roles.get("test_id", "test")
        fixed = ["train", val, test_id]
        ood = p.ood_parts if p.ood_parts is not None else [k for k in loaded.parts if k not in fixed]
        missing = [k for k in [*fixed, *ood] if k not in loaded.parts]
        if missing:
            raise ValueError(f"dataset '{loaded.info.name}' has no part(s) {missing}; parts: {sorted(loaded.parts)}")
        clash = [k for k in ood if k in fixed]
        if clash or len({"train", val, test_id}) < 3:
            raise ValueError(f"parts must play one role each: train, val={val}, test_id={test_id}, ood={ood}")
        if not ood:
            raise ValueError(f"dataset '{loaded.info.name}' has no OOD parts besides {fixed}")
        loader_info = loaded.info.details.get("split_info", {})
        return Splits(
            train=loaded.parts["train"],
            val=loaded.parts[val],
            test_id=loaded.parts[test_id],
            ood={ood_name(k): loaded.parts[k] for k in ood},
            info=loaded.info,
            split_info={ood_name(k): part_split_info(k, loader_info) for k in ood},
        )
