"""The live registries as plain data: what ``catalog.declared`` holds, computed from the
imported entries (``python -m regbench.catalog.write`` writes it; a test compares the two)."""

from __future__ import annotations

import types
import typing
from typing import Any

import annotated_types
from pydantic.fields import FieldInfo

from regbench.catalog import registries
from regbench.params import params_model
from regbench.registry import describe

# annotated_types' constraints that pydantic's Field writes, by Field's keyword
CONSTRAINTS = {
    annotated_types.Ge: "ge",
    annotated_types.Gt: "gt",
    annotated_types.Le: "le",
    annotated_types.Lt: "lt",
    annotated_types.MinLen: "min_length",
    annotated_types.MaxLen: "max_length",
}
BUILTINS = (int, float, bool, str)


class Unwritable(ValueError):
    """An annotation this module cannot write as source: its entry stays with the live class."""


def annotation_source(annotation: Any, metadata: list | tuple = ()) -> str:
    """``annotation`` (with pydantic's constraint ``metadata``) as source that
    ``catalog.signatures`` evaluates back, e.g. ``Union[Annotated[int, Field(ge=0)], None]``."""
    if metadata:
        return f"Annotated[{annotation_source(annotation)}, {field_source(metadata)}]"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        infos = [a for a in args[1:] if isinstance(a, FieldInfo)]
        if len(infos) != len(args) - 1:
            raise Unwritable(f"annotation {annotation!r}")
        return annotation_source(args[0], [m for info in infos for m in info.metadata])
    if annotation is type(None):
        return "None"
    if annotation in BUILTINS:
        return annotation.__name__
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin in (typing.Union, types.UnionType):
        return f"Union[{', '.join(annotation_source(a) for a in args)}]"
    if origin in (tuple, list, dict):
        return f"{origin.__name__}[{', '.join('...' if a is Ellipsis else annotation_source(a) for a in args)}]"
    raise Unwritable(f"annotation {annotation!r}")


def field_source(metadata: list | tuple) -> str:
    """``Field(ge=0, lt=1)`` for pydantic's constraint objects."""
    words = []
    for m in metadata:
        if type(m) not in CONSTRAINTS:
            raise Unwritable(f"constraint {m!r}")
        key = CONSTRAINTS[type(m)]
        words.append(f"{key}={getattr(m, key)!r}")
    return f"Field({', '.join(words)})"


def parameters(cls: type) -> tuple[tuple[str, str, Any], ...] | None:
    """``(name, annotation source, default)`` per constructor parameter (the default ``...``
    when required), or None when one cannot be written (then the live class is read)."""
    try:
        return tuple(
            (name, annotation_source(f.annotation, f.metadata), ... if f.is_required() else f.default)
            for name, f in params_model(cls).model_fields.items()
        )
    except Unwritable:
        return None


def regularizer_entry(cls: type) -> dict[str, Any]:
    """What ``regbench list regularizers`` shows of ``cls`` and its parameter signature."""
    inst = cls if isinstance(cls.tasks, tuple) and isinstance(cls.kind, str) else cls()  # recipes: properties
    return {
        "kind": inst.kind,
        "tasks": tuple(inst.tasks),
        "modalities": tuple(inst.modalities),
        "description": describe(cls),
        "params": parameters(cls),
    }


def live_catalog() -> dict[str, Any]:
    """Every registry's built-in entries as data (imports them all, and torch)."""
    from regbench.data.base import MODALITIES

    out: dict[str, Any] = {"modalities": tuple(MODALITIES)}
    for kind, registry in registries().items():
        if kind == "regularizers":
            out[kind] = {name: regularizer_entry(obj) for name, obj in registry.items()}
        else:
            out[kind] = {name: {"description": describe(obj)} for name, obj in registry.items()}
    return out
