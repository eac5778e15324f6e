"""The registered objects that planning a suite reads (``harness.plan``, ``harness.applicability``).

In a process that has not imported the registering modules, a built-in dataset loader, model
builder or shift is its stand-in from ``catalog.declared``: its signature, declared task,
modality and training environments, and its real parameter model (``shifts.params``), so that
``regbench validate SUITE`` needs no torch. Anything else (a model plugin, an entry whose
signature ``catalog.declared`` cannot write) and every entry once the registry holds entries
in this process is the object itself, as before (``tests/test_startup.py`` checks that both
give the same plan and the same errors).
"""

from __future__ import annotations

import importlib
from functools import cache, partial
from typing import Any

from regbench.catalog import live, registries
from regbench.catalog.declared import CATALOG
from regbench.catalog.signatures import declared_class, refuse_unknown
from regbench.data import one_training_env
from regbench.registry import UnknownNameError
from regbench.shifts.base import Shift

# the arguments a run passes to a dataset loader and a model builder itself: a suite sets the rest
DATASET_SKIP = ("seed",)
MODEL_SKIP = ("input_shape", "num_classes", "info")


def declared(kind: str, name: str, what: str) -> dict[str, Any] | None:
    """``name``'s entry in ``catalog.declared[kind]`` when it stands in for the registered object
    (None: read the registry). A name it lacks raises the registry's ``UnknownNameError``,
    whose list of names is the declared one as long as the registry holds no entries."""
    if live(kind):
        return None
    entry = CATALOG[kind].get(name)
    if entry is None:
        raise UnknownNameError(what, name, sorted(CATALOG[kind]))
    return entry if entry["params"] is not None else None


def registered_loader(name: str) -> Any:
    """Dataset loader ``name`` or its stand-in (``.task``, ``.modality``,
    ``.training_envs(**dataset_args)``, the loader's signature); raises ``UnknownNameError``."""
    if declared("datasets", name, "dataset") is None:
        return registries()["datasets"].get(name)
    return declared_dataset(name)


@cache  # one stand-in per name, as params_model caches its schema by object
def declared_dataset(name: str) -> type:
    entry = CATALOG["datasets"][name]
    envs = one_training_env
    if entry["training_envs"] is not None:  # the loader's own (WILDS'), a torch-free function
        reference, args = entry["training_envs"]
        envs = partial(attribute(reference), *args)
    return declared_class(
        name, "datasets", task=entry["task"], modality=entry["modality"], training_envs=staticmethod(envs)
    )


def attribute(reference: str) -> Any:
    """The object ``module:qualname`` names (``catalog.declared`` names only torch-free modules)."""
    module, qualname = reference.split(":")
    return getattr(importlib.import_module(module), qualname)


def registered_shift(kind: str) -> type[Shift]:
    """Shift family ``kind``'s class or its stand-in, a :class:`Shift` with the family's
    ``Params``, ``family`` and ``keeps_dataset_envs`` (no ``apply``); raises ``UnknownNameError``."""
    if declared("shifts", kind, "shift") is None:
        return registries()["shifts"].get(kind)
    return declared_shift(kind)


@cache
def declared_shift(kind: str) -> type[Shift]:
    entry = CATALOG["shifts"][kind]
    params = attribute(entry["params"])
    attributes = {"family": entry["family"], "keeps_dataset_envs": entry["keeps_dataset_envs"]}
    return type(f"Declared[{kind}]", (Shift,), {**attributes, "Params": params, "registered_name": kind})


def registered_builder(name: str) -> Any:
    """Model ``name``'s builder (``models.lookup_model``: a plugin too) or a built-in one's
    stand-in with its signature; raises ``UnknownNameError`` or ``PluginError``."""
    if not live("models"):
        refuse_unknown("models", name)
    if live("models") or CATALOG["models"].get(name, {}).get("params") is None:
        from regbench.models import lookup_model

        return lookup_model(name)
    return declared_class(name, "models")


def model_code(name: str) -> str | None:
    """``models.model_code``: None for a built-in model without importing it."""
    if name in CATALOG["models"] and not live("models"):
        return None  # built-in code is versioned with regbench (plugins.code_identity)
    from regbench.models import model_code as code_of

    return code_of(name)


def regularizer_code(name: str) -> str | None:
    """``regularizers.plugins.code_identity`` of regularizer ``name``: None for a built-in one
    without importing it."""
    if name in CATALOG["regularizers"] and not live("regularizers"):
        return None  # built-in code is versioned with regbench (plugins.code_identity)
    from regbench.regularizers.build import lookup
    from regbench.regularizers.plugins import code_identity

    return code_identity(lookup(name), name)
