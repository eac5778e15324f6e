"""The live registries as plain data: what ``catalog.declared`` holds, computed from the
imported entries (``python -m regbench.catalog.write`` writes it; a test compares the two)."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from regbench.catalog import registries
from regbench.catalog.annotations import parameters
from regbench.catalog.planning import DATASET_SKIP, MODEL_SKIP
from regbench.catalog.stacks import member_facts
from regbench.registry import describe


def regularizer_entry(cls: type) -> dict[str, Any]:
    """What ``regbench list regularizers`` shows of ``cls``, its parameter signature and what a
    suite's stack checks read of it (``catalog.stacks``; None when a parameter is required, as
    the facts are read from an instance built with the defaults)."""
    inst = cls if isinstance(cls.tasks, tuple) and isinstance(cls.kind, str) else cls()  # recipes: properties
    params = parameters(cls)
    with_defaults = params is not None and all(default is not ... for _, _, default in params)
    return {
        "kind": inst.kind,
        "tasks": tuple(inst.tasks),
        "modalities": tuple(inst.modalities),
        "description": describe(cls),
        "params": params,
        "stack": member_facts(cls()).as_data() if with_defaults else None,
    }


def dataset_entry(loader: Any) -> dict[str, Any]:
    """A dataset loader's description, declared task, modality and signature, and its own
    ``training_envs`` (``register_dataset(training_envs=…)``) as a function reference (None:
    the default, one environment). A ``training_envs`` that is no module-level function (or
    partial of one) cannot be referenced: the loader is then read itself (``params`` None)."""
    from regbench.data import one_training_env

    envs = loader.training_envs
    reference = None if envs is one_training_env else function_reference(envs)
    writable = envs is one_training_env or reference is not None
    return {
        "description": describe(loader),
        "task": loader.task,
        "modality": loader.modality,
        "params": parameters(loader, DATASET_SKIP) if writable else None,
        "training_envs": reference,
    }


def function_reference(fn: Any) -> tuple[str, tuple] | None:
    """``("module:qualname", args)`` for a module-level function (args ``()``) or a
    ``functools.partial`` of one with positional arguments; None for anything else."""
    args: tuple = ()
    if isinstance(fn, functools.partial) and not fn.keywords:
        fn, args = fn.func, fn.args
    if not inspect.isfunction(fn) or "<locals>" in fn.__qualname__:
        return None
    return f"{fn.__module__}:{fn.__qualname__}", args


def shift_entry(cls: type) -> dict[str, Any]:
    """A shift family's description, family, whether it keeps the dataset's environments, and
    its parameter model as ``module:Class`` (None when the class answers ``training_envs`` or
    builds itself otherwise than :class:`~regbench.shifts.base.Shift`: then it is read itself)."""
    from regbench.shifts.base import Shift

    own = cls.training_envs is Shift.training_envs and cls.__init__ is Shift.__init__
    return {
        "description": describe(cls),
        "family": cls.family,
        "keeps_dataset_envs": cls.keeps_dataset_envs,
        "params": f"{cls.Params.__module__}:{cls.Params.__qualname__}" if own else None,
    }


def live_catalog() -> dict[str, Any]:
    """Every registry's built-in entries as data (imports them all, and torch)."""
    from regbench.data.base import MODALITIES
    from regbench.regularizers.stack import OWNED_HOOKS

    entry = {
        "datasets": dataset_entry,
        "shifts": shift_entry,
        "models": lambda builder: {"description": describe(builder), "params": parameters(builder, MODEL_SKIP)},
        "regularizers": regularizer_entry,
    }
    out: dict[str, Any] = {"modalities": tuple(MODALITIES), "owned_hooks": OWNED_HOOKS}
    for kind, registry in registries().items():
        out[kind] = {name: entry[kind](obj) for name, obj in registry.items()}
    return out
