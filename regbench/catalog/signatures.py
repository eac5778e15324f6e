"""A regularizer's parameter schema without importing it: a built-in one's constructor
signature rebuilt from ``catalog.declared``, so checking parameters (``regbench validate
regularizers``) needs no torch. Anything else, and any regularizer once the registering modules
are imported in this process, is read from the class itself (``regularizers.build.lookup``)."""

from __future__ import annotations

import inspect
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import Field

from regbench.catalog import live
from regbench.catalog.declared import CATALOG

# the names catalog.describe.annotation_source writes
NAMESPACE = {"Annotated": Annotated, "Literal": Literal, "Union": Union, "Field": Field}


def signature_of(name: str) -> type:
    """A class whose ``__init__`` signature is regularizer ``name``'s parameter schema (for
    :func:`regbench.params.params_model`); raises ``UnknownNameError`` or ``PluginError`` as
    ``regularizers.build.lookup`` does for a name that is neither built in nor loadable."""
    entry = CATALOG["regularizers"].get(name)
    if entry is None or entry["params"] is None or live("regularizers"):
        from regbench.regularizers.build import lookup  # a plugin, or already imported: the class itself

        return lookup(name)
    return declared_class(name)


@cache  # one class per name, as params_model caches its schema by class
def declared_class(name: str) -> type:
    """A stand-in for built-in regularizer ``name``: its registered name and its constructor's
    signature, nothing else (it cannot be constructed)."""
    params = CATALOG["regularizers"][name]["params"]

    def __init__(self, **params: Any) -> None:
        raise TypeError(f"'{name}' is described here, not constructed: use regularizers.build.lookup")

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
    return type(f"Declared[{name}]", (), {"__init__": __init__, "registered_name": name})
