"""Imports every registering module, so the registries are complete (timm's explicit list)."""

from __future__ import annotations

import importlib

_LOADED = False


def load_all() -> None:
    """Import the dataset, shift, model and regularizer modules named in each package's list."""
    global _LOADED
    if _LOADED:
        return
    from regbench.data import DATASET_MODULES
    from regbench.models import MODEL_MODULES
    from regbench.regularizers import REGULARIZER_MODULES
    from regbench.shifts import SHIFT_MODULES

    for name in [*DATASET_MODULES, *SHIFT_MODULES, *MODEL_MODULES, *REGULARIZER_MODULES]:
        importlib.import_module(name)
    _LOADED = True


def registries() -> dict:
    """{"datasets": DATASETS, "shifts": SHIFTS, "models": MODELS, "regularizers": REGULARIZERS}."""
    load_all()
    from regbench.data import DATASETS
    from regbench.models import MODELS
    from regbench.regularizers import REGULARIZERS
    from regbench.shifts import SHIFTS

    return {"datasets": DATASETS, "shifts": SHIFTS, "models": MODELS, "regularizers": REGULARIZERS}
