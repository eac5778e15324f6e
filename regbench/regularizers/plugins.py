"""User regularizers from outside the package (docs/architecture.md, Regularizers).

A regularizer spec's ``name`` may be

* a registered name: ``mixup``;
* ``package.module:Class``: imported with :func:`importlib.import_module`;
* ``path/to/file.py:Class``: the file is executed once per process as a module of its own;
* the name of an entry point in the group ``regbench.regularizers`` of an installed package.

The loading itself (files, modules, entry points, one-line errors, code identity) is shared
with model plugins and lives in :mod:`regbench.plugins`; this module adds what is a
regularizer's own: the class check and the constructor's errors.
"""

from __future__ import annotations

import inspect
from typing import Any

from regbench.plugins import (  # noqa: F401  (re-exported: callers and tests import them from here)
    PLUGIN_FAILURES,
    PluginError,
    _one_line,
    entry_points,
    find_module_spec,
    import_module,
    imported_names,
    is_local_source,
    is_plugin_spec,
    load_attribute,
    load_entry_point,
    load_file,
    local_imports,
    module_file,
    module_name_for,
    source_hash,
)
from regbench.plugins import code_identity as _code_identity
from regbench.registry import UnknownNameError
from regbench.regularizers.base import Regularizer

ENTRY_POINT_GROUP = "regbench.regularizers"
FORMS = "a registered name, package.module:Class, path/to/file.py:Class, or an entry point"


def _is_regularizer_class(obj: Any) -> bool:
    return inspect.isclass(obj) and issubclass(obj, Regularizer)


def resolve(spec: str, registry) -> type:
    """The class that ``spec`` names (see the module docstring); raises :class:`PluginError`.

    ``registry`` is the regularizer registry: registered names win over entry points.
    """
    if is_plugin_spec(spec):
        obj = load_attribute(spec, "regularizer", FORMS, _is_regularizer_class, "Regularizer subclass")
        return check_class(obj, spec)
    if spec in registry:
        return registry.get(spec)
    points = entry_points(ENTRY_POINT_GROUP)
    if spec in points:
        return check_class(load_entry_point(spec, ENTRY_POINT_GROUP), spec)
    raise UnknownNameError("regularizer", spec, sorted({*registry.names(), *points}))


def check_class(obj: Any, spec: str) -> type:
    """``obj`` if it is a Regularizer subclass, else a :class:`PluginError` saying what it is."""
    if _is_regularizer_class(obj):
        return obj
    what = f"class {obj.__module__}.{obj.__qualname__}" if inspect.isclass(obj) else type(obj).__name__
    raise PluginError(
        f"'{spec}' is not a Regularizer subclass (it is a {what}); "
        "subclass regbench.Regularizer (from regbench import Regularizer)"
    )


def construct(cls: type, params: dict[str, Any], spec: str) -> Any:
    """``cls(**params)``. A plugin constructor's failure other than ``ValueError`` (which says
    its parameters or stack conflict, as regbench's own regularizers do) becomes a one-line
    :class:`PluginError`: SystemExit and KeyboardInterrupt too, which would otherwise end
    regbench silently. regbench's own classes' errors pass through unchanged."""
    if cls.__module__.startswith("regbench."):
        return cls(**params)
    try:
        return cls(**params)
    except ValueError:
        raise
    except PLUGIN_FAILURES as err:
        raise PluginError(
            f"regularizer '{spec}' raised {type(err).__name__} in its constructor ({_one_line(err)})"
        ) from None


def code_identity(cls: type, spec: str) -> str | None:
    """A regularizer plugin's code identity in its run key (:func:`regbench.plugins.code_identity`):
    its file and the local modules it imports; None for regbench's own regularizers."""
    return _code_identity(cls, spec, ENTRY_POINT_GROUP)
