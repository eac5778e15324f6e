"""How many training environments a WILDS dataset's official train split holds, without
``wilds_data`` (torch): read when a suite loads, for a shift that keeps the dataset's
environments (``regbench validate`` imports no torch)."""

from __future__ import annotations

# the environments of WILDS' grouper over the dataset's groupby_fields (``wilds_data.WILDS_TABLE``'s
# env_fields): Waterbirds background × label, Camelyon17 the 3 hospitals of train
TRAINING_ENVS = {"waterbirds": 4, "camelyon17": 3}


def training_envs(name: str, environments: bool = True, **dataset_args) -> int:
    """Loader ``wilds:<name>``'s ``training_envs`` (``register_dataset``): 1 with ``environments: false``."""
    return TRAINING_ENVS[name] if environments else 1
