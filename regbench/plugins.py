"""Loading user code from outside the package: regularizers and models alike.

A spec names an object in one of these forms (its registry is consulted first by the caller):

* ``package.module:Name``: imported with :func:`importlib.import_module`;
* ``path/to/file.py:Name``: the file is executed once per process as a module of its own;
* the name of an entry point in the kind's group (``regbench.regularizers``, ``regbench.models``)
  of an installed package.

The spec string itself travels in a run's spec, so a spawned worker process resolves it again
the same way (the file is re-imported there; a relative path is relative to the working
directory, which spawned workers share). Every way this can fail has its own one-line
:class:`PluginError`. :func:`code_identity` is what identifies a plugin's code in a run key.

This module sits at the first stage (beside ``registry``), so that ``models`` and
``regularizers`` share one loader.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from regbench.registry import UserError

# What a plugin may raise while it is imported or constructed: any error, and also SystemExit
# (a file ending in ``sys.exit(main())`` without a ``__main__`` guard) and KeyboardInterrupt,
# which would otherwise end regbench silently with the plugin's exit code, 0 included.
PLUGIN_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


class PluginError(UserError, ImportError):
    """A spec names a plugin that cannot be loaded; the message is one line."""

    def __str__(self) -> str:
        return self.args[0] if self.args else ""


def is_plugin_spec(name: str) -> bool:
    """True for the ``module:Name`` and ``file.py:Name`` forms."""
    return ":" in name


def load_attribute(spec: str, kind: str, forms: str, accepts: Callable[[Any], bool], what: str) -> Any:
    """The object that a ``module:Name`` or ``file.py:Name`` spec names; raises :class:`PluginError`.

    ``kind`` ("regularizer", "model") and ``forms`` word the errors; when the name is missing,
    the error lists the module's own objects for which ``accepts`` is true (``what`` names them:
    "Regularizer subclass", "model builder").
    """
    target, _, attr = spec.rpartition(":")
    if not target or not attr.isidentifier():
        raise PluginError(f"{kind} spec '{spec}': expected {forms}")
    if _is_path(target):
        module, where = load_file(target), f"plugin file '{target}'"
    else:
        module, where = import_module(target, spec, kind), f"module '{target}'"
    if not hasattr(module, attr):
        defined = sorted(
            n for n, v in vars(module).items() if getattr(v, "__module__", None) == module.__name__ and accepts(v)
        )
        hint = f"; it defines: {', '.join(defined)}" if defined else f"; it defines no {what}"
        kind_word = "class" if kind == "regularizer" else "name"
        raise PluginError(f"{where} has no {kind_word} '{attr}'{hint}")
    return getattr(module, attr)


def load_entry_point(spec: str, group: str) -> Any:
    """The object entry point ``spec`` of ``group`` loads; a one-line :class:`PluginError` on failure."""
    ep = entry_points(group)[spec]
    try:
        return ep.load()
    except PLUGIN_FAILURES as err:
        raise PluginError(
            f"entry point '{spec}' ({ep.value}) of group {group} failed to load: {type(err).__name__}: {_one_line(err)}"
        ) from None


def _is_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or os.sep in target


def module_name_for(path: Path) -> str:
    """A stable module name per file (two files called ``plugin.py`` must not collide)."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"regbench_plugin_{stem}_{digest}"


def load_file(target: str) -> ModuleType:
    """Execute ``target`` (a .py file) once per process as its own module and return it."""
    path = Path(target).expanduser().resolve()
    if not path.is_file():
        raise PluginError(f"plugin file '{target}' not found (looked for {path})")
    name = module_name_for(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin file '{target}' cannot be imported as Python (expected a .py file)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: dataclasses and pickling look the module up
    try:
        spec.loader.exec_module(module)
    except PLUGIN_FAILURES as err:
        sys.modules.pop(name, None)
        raise PluginError(f"plugin file '{target}' failed to import: {type(err).__name__}: {_one_line(err)}") from None
    return module


def import_module(target: str, spec: str, kind: str = "regularizer") -> ModuleType:
    """``importlib.import_module(target)`` with a one-line :class:`PluginError` on failure."""
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as err:
        raise PluginError(
            f"cannot import module '{target}' for {kind} spec '{spec}': {_one_line(err)} "
            "(is it installed, or on PYTHONPATH?)"
        ) from None
    except PLUGIN_FAILURES as err:
        raise PluginError(f"module '{target}' failed to import: {type(err).__name__}: {_one_line(err)}") from None


def entry_points(group: str) -> dict[str, Any]:
    """Entry points of ``group`` (``regbench.regularizers``, ``regbench.models``), by name."""
    from importlib.metadata import entry_points as eps

    return {ep.name: ep for ep in eps(group=group)}


def _one_line(err: BaseException) -> str:
    if isinstance(err, SystemExit):  # str(SystemExit(0)) is "0": say what it was
        return f"exit code {err.code!r}"
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def code_identity(obj: Any, spec: str, group: str) -> str | None:
    """What identifies a plugin's code in its run key: ``sha256:<16 hex>``, prefixed
    ``<distribution>==<version>+`` for an entry point of ``group``; None for regbench's own
    objects (their code is versioned with regbench, and their run keys stay as they were).

    ``obj`` is the loaded class or function. The hash covers the plugin's source file and
    every *local* module it imports, transitively (:func:`local_imports`): a module whose file
    is neither in the standard library, nor in a ``site-packages``/``dist-packages`` folder,
    nor part of regbench. Such a helper is hashed by module name and content, so its path on
    this machine does not enter the key; a plugin without local imports keeps the hash of its
    own file alone. Installed third-party packages (torch, numpy, an installed plugin's own
    dependencies) are NOT hashed, nor are their versions (except the entry point's own
    distribution version, as above): upgrading them does not change a run key. A package
    installed in editable mode lives outside site-packages and so counts as local source.

    Editing a plugin file, or a helper module it imports, therefore changes its run keys:
    its old runs are never reused.
    """
    module = sys.modules.get(obj.__module__)
    path = getattr(module, "__file__", None)
    if obj.__module__.startswith("regbench.") or path is None:
        return None
    own = source_hash(str(Path(path).resolve()), *_stat(path))
    helpers = local_imports(module)
    if helpers:
        listing = "\n".join(f"{name} {source_hash(file, *_stat(file))}" for name, file in sorted(helpers.items()))
        own = hashlib.sha256(f"{own}\n{listing}".encode()).hexdigest()[:16]
    digest = f"sha256:{own}"
    if not is_plugin_spec(spec):
        ep = entry_points(group).get(spec)
        dist = getattr(ep, "dist", None) if ep is not None else None
        if dist is not None:
            return f"{dist.metadata['Name']}=={dist.version}+{digest}"
    return digest


def local_imports(module: ModuleType) -> dict[str, str]:
    """Every local module that ``module`` imports, transitively: module name → resolved file.

    Imports are read from the source (``import a.b``, ``from a import b``, ``from .c import d``,
    at the top or inside functions), so a helper imported lazily counts as well. A name is
    looked up in ``sys.modules`` first (where the plugin's import put it), else found with
    :func:`importlib.util.find_spec` without running it; a name that cannot be found is left
    out (the import would fail when the plugin runs anyway). ``module`` itself is not listed.
    """
    start = getattr(module, "__file__", None)
    if start is None:
        return {}
    found: dict[str, str] = {}
    todo = [(str(Path(start).resolve()), module.__name__, getattr(module, "__package__", None) or "")]
    seen = {todo[0][0]}
    while todo:
        file, name, package = todo.pop()
        for target in imported_names(file, *_stat(file), package):
            origin = module_file(target)
            if origin is None or not is_local_source(target, origin) or origin in seen:
                continue
            seen.add(origin)
            found[target] = origin
            if origin.endswith(".py"):
                is_pkg = Path(origin).name == "__init__.py"
                todo.append((origin, target, target if is_pkg else target.rpartition(".")[0]))
    return found


@functools.lru_cache(maxsize=1024)
def imported_names(path: str, mtime_ns: int, size: int, package: str) -> tuple[str, ...]:
    """The absolute module names a Python file imports (cached per mtime and size).

    ``import a.b.c`` names ``a``, ``a.b`` and ``a.b.c`` (each is executed); ``from a import
    x`` names ``a`` and ``a.x`` (x may be a submodule: kept only if it is one, by the caller's
    lookup); relative imports are resolved against ``package``.
    """
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return ()
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                names += [".".join(parts[: i + 1]) for i in range(len(parts))]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if not package:
                    continue  # a relative import outside a package fails at import time
                try:
                    base = importlib.util.resolve_name("." * node.level + base, package)
                except (ImportError, ValueError):
                    continue
            if not base:
                continue
            parts = base.split(".")
            names += [".".join(parts[: i + 1]) for i in range(len(parts))]
            names += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return tuple(dict.fromkeys(names))


def module_file(name: str) -> str | None:
    """The resolved file of module ``name``, or None (not found, built in, a namespace package,
    or not a module at all, e.g. a function imported by ``from a import f``).

    A module not imported yet is found without being executed (:func:`find_module_spec`).
    """
    module = sys.modules.get(name)
    if module is not None:
        origin = getattr(module, "__file__", None)
    else:
        spec = find_module_spec(name)
        origin = spec.origin if spec is not None and spec.has_location else None
    if not origin or not os.path.isfile(origin):
        return None
    return str(Path(origin).resolve())


def find_module_spec(name: str):
    """The import spec of ``name`` without importing it or its parents (unlike
    :func:`importlib.util.find_spec`, which imports the parent package of a dotted name)."""
    parent, _, _ = name.rpartition(".")
    try:
        if not parent:
            return importlib.util.find_spec(name)  # a top-level name: nothing is executed
        if parent in sys.modules:
            locations = getattr(sys.modules[parent], "__path__", None)
        else:
            parent_spec = find_module_spec(parent)
            locations = parent_spec.submodule_search_locations if parent_spec is not None else None
        if locations is None:
            return None  # the parent is a plain module: ``name`` is one of its attributes
        return importlib.machinery.PathFinder.find_spec(name, list(locations))
    except (ImportError, ValueError, AttributeError):
        return None


def _stdlib_dirs() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    return tuple(Path(paths[k]).resolve() for k in ("stdlib", "platstdlib") if k in paths)


def is_local_source(name: str, origin: str) -> bool:
    """True for a module that is neither standard library, nor installed (site-packages or
    dist-packages), nor regbench's own code."""
    top = name.partition(".")[0]
    if top == "regbench" or top in sys.stdlib_module_names:
        return False
    path = Path(origin)
    if {"site-packages", "dist-packages"} & set(path.parts):
        return False
    return not any(path.is_relative_to(d) for d in _stdlib_dirs())


def _stat(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=256)
def source_hash(path: str, mtime_ns: int, size: int) -> str:
    """First 16 hex digits of the sha256 of ``path`` (cached per mtime and size: planning a
    suite hashes each plugin file once, however many runs use it)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
