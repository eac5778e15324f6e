"""One small registry used for datasets, shifts, models and regularizers.

Modelled on lm-evaluation-harness' ``api/registry.py``: a duplicate name raises, an object
of the wrong base class raises ``TypeError``, and an unknown name answers with the closest
names and the full list, so a typo in a suite never surfaces as a ``KeyError`` deep inside.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UserError(Exception):
    """Base of every error that is the user's to fix (a bad suite, an unknown name, missing data,
    an unusable store or plugin): the CLI prints its one-line message, never a traceback."""


class UnknownNameError(UserError, KeyError):
    """Raised for a name that is not registered; its message carries suggestions."""

    def __init__(self, kind: str, name: str, available: list[str]):
        self.kind, self.name, self.available = kind, name, available
        close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        super().__init__(f"unknown {kind} '{name}'.{hint} Available: {', '.join(available)}")

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return self.args[0]


class Registry(Generic[T]):
    """Name → object map with a decorator to fill it.

    ``base`` is checked on registration: classes must subclass it, callables are accepted
    when ``base`` is None.
    """

    def __init__(self, kind: str, base: type | None = None):
        self.kind = kind
        self.base = base
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and not same_definition(self._items[name], obj):
                raise ValueError(f"{self.kind} '{name}' is already registered by {self._items[name]!r}")
            if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
                raise TypeError(f"{self.kind} '{name}' must be a subclass of {self.base.__name__}, got {obj!r}")
            self._items[name] = obj
            try:
                obj.registered_name = name  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and plugin reloads only)."""
        self._items.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._items[n]) for n in self.names()]


def same_definition(old: Any, new: Any) -> bool:
    """True when ``new`` is ``old`` or a re-import of the same class from the same source file.

    A plugin file may be executed more than once in one process (loaded by path and by
    module name, or reloaded); its ``@register_regularizer`` must then replace the old
    class, not fail. Two *different* classes under one name still raise.
    """
    if old is new:
        return True
    if getattr(old, "__qualname__", None) != getattr(new, "__qualname__", None):
        return False
    src_old, src_new = _source_file(old), _source_file(new)
    return src_old is not None and src_old == src_new


def _source_file(obj: Any) -> str | None:
    path = getattr(sys.modules.get(getattr(obj, "__module__", ""), None), "__file__", None)
    return os.path.realpath(path) if path else None


def describe(obj: Any) -> str:
    """First line of an object's docstring, for ``regbench list``."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""
