"""A parameter signature as source text: what ``catalog.declared`` holds of each built-in
entry's signature, and ``catalog.signatures`` evaluates back into the same pydantic schema."""

from __future__ import annotations

import types
import typing
from typing import Any

import annotated_types
from pydantic import TypeAdapter
from pydantic.errors import PydanticSchemaGenerationError
from pydantic.fields import FieldInfo

from regbench.params import params_model

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
    if isinstance(annotation, type) and is_arbitrary(annotation):
        # pydantic checks only isinstance (a model builder's nn.Module argument): a stand-in of
        # the same name answers the same for every suite value (catalog.signatures.instance_of)
        return f"Instance({annotation.__module__!r}, {annotation.__qualname__!r})"
    raise Unwritable(f"annotation {annotation!r}")


def is_arbitrary(cls: type) -> bool:
    """Whether pydantic validates ``cls`` by ``isinstance`` alone (it has no schema of its own)."""
    try:
        TypeAdapter(cls)
    except PydanticSchemaGenerationError:
        return True
    return False


def field_source(metadata: list | tuple) -> str:
    """``Field(ge=0, lt=1)`` for pydantic's constraint objects."""
    words = []
    for m in metadata:
        if type(m) not in CONSTRAINTS:
            raise Unwritable(f"constraint {m!r}")
        key = CONSTRAINTS[type(m)]
        words.append(f"{key}={getattr(m, key)!r}")
    return f"Field({', '.join(words)})"


def parameters(cls: Any, skip: tuple[str, ...] = ()) -> tuple[tuple[str, str, Any], ...] | None:
    """``(name, annotation source, default)`` per keyword parameter of a class's constructor or
    a function but ``skip`` (the default ``...`` when required), or None when one cannot be
    written (then the live object is read)."""
    try:
        return tuple(
            (name, annotation_source(f.annotation, f.metadata), ... if f.is_required() else f.default)
            for name, f in params_model(cls, skip).model_fields.items()
        )
    except Unwritable:
        return None
