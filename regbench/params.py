"""Parameter schemas from type-hinted signatures (docs/architecture.md, Conventions: Parameters).

A regularizer's ``__init__(self, lam: float = 0.1)``, a model builder's keyword arguments
and a dataset loader's keyword arguments *are* their schemas: we build a pydantic model from
the signature (unknown keys forbidden), so the plain constructors of docs/architecture.md, Regularizers and of
every plugin are validated with field paths before anything trains.
"""

from __future__ import annotations

import inspect
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model


@cache
def params_model(fn: Any, skip: tuple[str, ...] = ()) -> type[BaseModel]:
    """A pydantic model of ``fn``'s keyword parameters (a class means its ``__init__``)."""
    target = fn.__init__ if isinstance(fn, type) else fn
    try:
        hints = typing.get_type_hints(target, include_extras=True)  # keep Annotated[..., Field(ge=0)]
    except Exception:  # unresolvable forward references: fall back to Any
        hints = {}
    fields: dict[str, Any] = {}
    for name, p in inspect.signature(target).parameters.items():
        if name in ("self", *skip) or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = hints.get(name, Any)
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[name] = (annotation, default)
    label = getattr(fn, "registered_name", None) or getattr(fn, "__name__", "params")
    return create_model(
        f"{label}_params",
        __config__=ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True),
        **fields,
    )


def resolve_params(fn: Any, given: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Validate ``given`` against ``fn``'s signature; return every parameter with defaults filled.

    Raises ``pydantic.ValidationError`` (the caller adds the file and field path).
    """
    return params_model(fn, skip).model_validate(given).model_dump(mode="json")
