"""The registries, complete, and a torch-free description of their built-in entries.

``load_all`` imports every registering module named in each package's list (timm's explicit
list), and with them torch. ``catalog.declared`` describes the built-in entries (names, kinds,
the tasks and inputs they apply to, descriptions, parameter signatures, what planning a suite
reads of them) without importing them, so that ``regbench list`` and ``regbench validate``
start in a fraction of torch's import time; ``tests/test_startup.py`` checks it equals the live
registries.
The imports of this module are inside its functions for the same reason: ``catalog.declared``
and ``catalog.signatures`` are imported through this package.
"""

from __future__ import annotations

import importlib
import sys

_LOADED = False

# registry kind → (the package that holds the registry, the registry's name in it)
PACKAGES = {
    "datasets": ("regbench.data", "DATASETS"),
    "shifts": ("regbench.shifts", "SHIFTS"),
    "models": ("regbench.models", "MODELS"),
    "regularizers": ("regbench.regularizers", "REGULARIZERS"),
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
    """Whether registry ``kind`` holds entries in this process (its registering modules, a
    plugin's or a test's registrations were imported): then it may hold entries that
    ``catalog.declared`` does not, and is read itself. Its package alone is not enough: the
    data, shift and model packages are imported without their entries (``data.names``,
    ``shifts.params``), and the registry is empty until a registering module runs."""
    package, name = PACKAGES[kind]
    registry = getattr(sys.modules.get(package), name, None)
    return registry is not None and bool(registry.names())
