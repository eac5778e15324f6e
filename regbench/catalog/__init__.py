"""The registries, complete, and a torch-free description of their built-in entries.

``load_all`` imports every registering module named in each package's list (timm's explicit
list), and with them torch. ``catalog.declared`` describes the built-in entries (names, kinds,
the tasks and inputs they apply to, descriptions, regularizer parameter signatures) without
importing them, so that ``regbench list`` and ``regbench validate regularizers`` start in a
fraction of torch's import time; ``tests/test_startup.py`` checks it equals the live registries.
The imports of this module are inside its functions for the same reason: ``catalog.declared``
and ``catalog.signatures`` are imported through this package.
"""

from __future__ import annotations

import importlib
import sys

_LOADED = False

# registry kind → the package that holds the registry (its import is what plugins register into)
PACKAGES = {
    "datasets": "regbench.data",
    "shifts": "regbench.shifts",
    "models": "regbench.models",
    "regularizers": "regbench.regularizers",
}


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


def live(kind: str) -> bool:
    """Whether this process has imported the package of registry ``kind``: then it may hold
    entries that ``catalog.declared`` does not (plugins, tests' registrations) and is read itself."""
    return PACKAGES[kind] in sys.modules
