"""Parameter schemas from type-hinted signatures (docs/architecture.md, Conventions: Parameters).

A regularizer's ``__init__(self, lam: float = 0.1)``, a model builder's keyword arguments
and a dataset loader's keyword arguments *are* their schemas: we build a pydantic model from
the signature (unknown keys forbidden), so the plain constructors of docs/architecture.md, Regularizers and of
every plugin are validated with field paths before anything trains.
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

# Ranges that standard parameters share, written into their signatures: `validate` refuses a
# value outside them with the field path, before anything trains.
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]  # dropout, label smoothing: 1 would erase the signal
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]


def _numeric(annotation: Any) -> bool:
    """Whether ``annotation`` is int or float (also inside Annotated or Optional)."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_numeric(a) for a in typing.get_args(annotation) if a is not type(None))
    return annotation in (int, float)


def _holds_numbers(annotation: Any) -> bool:
    """Whether ``annotation`` is a list or tuple of numbers (``seeds: tuple[int, ...]``)."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_holds_numbers(a) for a in typing.get_args(annotation))
    args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
    return typing.get_origin(annotation) in (list, tuple) and bool(args) and all(_numeric(a) for a in args)


def refuse_bools(model: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """``epochs: true`` or ``seeds: [true]`` is a mistake, not 1: a bool where a number is expected fails."""
    annotation = model.model_fields[info.field_name].annotation if info.field_name else None
    if isinstance(value, bool) and _numeric(annotation):
        raise ValueError("a number, not a boolean")
    if isinstance(value, (list, tuple)) and any(isinstance(v, bool) for v in value) and _holds_numbers(annotation):
        raise ValueError("numbers, not booleans")
    return value


class StrictNumbers(BaseModel):
    """Base of every parameter and suite model: booleans are never read as numbers."""

    _refuse_bools = field_validator("*", mode="before")(classmethod(refuse_bools))


def did_you_mean(model: type[BaseModel], name: str) -> str:
    """`` Did you mean: lam?`` for an unknown field ``name`` of ``model`` ('' when nothing is close)."""
    close = difflib.get_close_matches(name, list(model.model_fields), n=3, cutoff=0.6)
    return f" Did you mean: {', '.join(close)}?" if close else ""


class SignatureParams(StrictNumbers):
    """Base of the models built from signatures: unknown keys refused, values frozen, and any
    annotated type allowed (a model builder may take an ``nn.Module`` a regularizer hands it)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


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
    model = create_model(f"{label}_params", __base__=SignatureParams, **fields)
    MODELS[model.__name__] = model
    return model


# params_model's models by title, so an error message can name the fields a model knows
MODELS: dict[str, type[BaseModel]] = {}


def resolve_params(fn: Any, given: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Validate ``given`` against ``fn``'s signature; return every parameter with defaults filled.

    Raises ``pydantic.ValidationError`` (the caller adds the file and field path).
    """
    return params_model(fn, skip).model_validate(given).model_dump(mode="json")
