"""Imports every registering module, so the registries are complete (timm's explicit list)."""

from __future__ import annotations

import importlib

from regbench.data import DATASET_MODULES, DATASETS
from regbench.models import MODEL_MODULES, MODELS
from regbench.regularizers import REGULARIZER_MODULES, REGULARIZERS
from regbench.shifts import SHIFT_MODULES, SHIFTS

_LOADED = False


def load_all() -> None:
    """Import the dataset, shift, model and regularizer modules named in each package's list."""
    global _LOADED
    if _LOADED:
        return
    for name in [*DATASET_MODULES, *SHIFT_MODULES, *MODEL_MODULES, *REGULARIZER_MODULES]:
        importlib.import_module(name)
    _LOADED = True


def registries() -> dict:
    """{"datasets": DATASETS, "shifts": SHIFTS, "models": MODELS, "regularizers": REGULARIZERS}."""
    load_all()
    return {"datasets": DATASETS, "shifts": SHIFTS, "models": MODELS, "regularizers": REGULARIZERS}
