"""A registered entry's parameter schema without importing it: a built-in regularizer's,
model builder's or dataset loader's signature rebuilt from ``catalog.declared``, so checking
parameters (``regbench validate``) needs no torch. Anything else, and any entry once the
registering modules are imported in this process, is read from the object itself
(``regularizers.build.lookup`` for regularizers, ``catalog.planning`` for the others)."""

from __future__ import annotations

import inspect
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import Field

from regbench.catalog import live
from regbench.catalog.declared import CATALOG
from regbench.plugins import entry_points, is_plugin_spec
from regbench.registry import UnknownNameError


@cache  # one class per name: pydantic compares annotations by identity
def instance_of(module: str, qualname: str) -> type:
    """A stand-in for class ``module.qualname`` in a declared annotation (a model builder's
    ``nn.Module`` argument): of the same name, so that pydantic's "an instance of Module"
    reads the same, and with no instances, as no suite value is one of the real class."""
    return type(qualname.rsplit(".", 1)[-1], (), {"__module__": module, "__qualname__": qualname})


# the names catalog.describe.annotation_source writes
NAMESPACE = {"Annotated": Annotated, "Literal": Literal, "Union": Union, "Field": Field, "Instance": instance_of}


def signature_of(name: str) -> type:
    """A class whose ``__init__`` signature is regularizer ``name``'s parameter schema (for
    :func:`regbench.params.params_model`); raises ``UnknownNameError`` or ``PluginError`` as
    ``regularizers.build.lookup`` does for a name that is neither built in nor loadable."""
    entry = CATALOG["regularizers"].get(name)
    if not live("regularizers"):
        refuse_unknown("regularizers", name)
    if entry is None or entry["params"] is None or live("regularizers"):
        from regbench.regularizers.build import lookup  # a plugin, or already imported: the class itself

        return lookup(name)
    return declared_class(name)


# kind → (what an unknown name is called, the entry-point group a plugin may register in):
# regularizers.plugins.ENTRY_POINT_GROUP and models.MODEL_ENTRY_POINT_GROUP (a test checks)
ENTRY_POINTS = {"models": ("model", "regbench.models"), "regularizers": ("regularizer", "regbench.regularizers")}


def refuse_unknown(kind: str, name: str) -> None:
    """Raise the ``UnknownNameError`` that looking ``name`` up in registry ``kind`` (models or
    regularizers) raises in a process whose registry holds the built-in entries only: for a
    name that is neither declared, nor a plugin spec, nor an entry point. Read without
    importing the registry, so that a misspelt name is refused without torch."""
    if name in CATALOG[kind] or is_plugin_spec(name):
        return
    what, group = ENTRY_POINTS[kind]
    points = entry_points(group)
    if name not in points:
        raise UnknownNameError(what, name, sorted({*CATALOG[kind], *points}))


@cache  # one class per name, as params_model caches its schema by class
def declared_class(name: str, kind: str = "regularizers", **attributes: Any) -> type:
    """A stand-in for the built-in entry ``name`` of registry ``kind``: its registered name,
    its signature (``declared[kind][name]["params"]``) and ``attributes``, nothing else (it
    cannot be constructed or called)."""
    params = CATALOG[kind][name]["params"]

    def __init__(self, **params: Any) -> None:
        raise TypeError(f"'{name}' is described here, not constructed: look it up in its registry")

    annotations = {p: eval(source, dict(NAMESPACE)) for p, source, _ in params}  # our own generated source
    __init__.__annotations__ = annotations
    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [
            inspect.Parameter(
                p,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=inspect.Parameter.empty if default is ... else default,
                annotation=annotations[p],
            )
            for p, _, default in params
        ]
    )
    return type(f"Declared[{name}]", (), {**attributes, "__init__": __init__, "registered_name": name})
