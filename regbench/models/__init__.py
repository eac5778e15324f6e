"""Model builders. Each module registers ``fn(input_shape, num_classes, **args) -> nn.Module``.

Arguments a regularizer may override (``dropout``, ``norm``) are ordinary keyword arguments,
so that "architecture as a regularizer" is just a constructor change.

A benchmark's ``model`` may also name a plugin, as a regularizer may (docs/plugins.md, Models):
``path/to/file.py:MyNet``, ``package.module:MyNet`` or an entry point of the group
``regbench.models``. It is any callable taking ``(input_shape, num_classes, **args)``, an
``nn.Module`` subclass included; its keyword arguments are ``model_args``, validated from its
signature like a built-in's. The spec string travels in the run's spec and each worker loads it
again (:mod:`regbench.plugins`); :func:`model_code` is its code identity in the run key.
"""

import inspect
from typing import Any

from regbench.plugins import (
    PluginError,
    code_identity,
    entry_points,
    is_plugin_spec,
    load_attribute,
    load_entry_point,
)
from regbench.registry import Registry, UnknownNameError

MODELS: Registry = Registry("model")


def register_model(name: str):
    """Function decorator: ``@register_model("mlp")``."""
    return MODELS.register(name)


MODEL_MODULES = [
    "regbench.models.mlp",
    "regbench.models.cnn",
    "regbench.models.resnet",
    "regbench.models.vit",
    "regbench.models.seq2seq_builder",
    "regbench.models.audio",
]


MODEL_ENTRY_POINT_GROUP = "regbench.models"
MODEL_FORMS = "a registered name, package.module:Builder, path/to/file.py:Builder, or an entry point"
BUILDER_PARAMETERS = ("input_shape", "num_classes")


def lookup_model(name: str) -> Any:
    """The builder that ``name`` names: a registered model, a ``module:Builder`` or
    ``file.py:Builder`` plugin, or an entry point of ``regbench.models`` (registered names win).

    Raises ``UnknownNameError`` or a one-line :class:`~regbench.plugins.PluginError`.
    """
    import importlib

    for module in MODEL_MODULES:  # the registry is complete even before catalog.load_all()
        importlib.import_module(module)
    if name in MODELS:
        return MODELS.get(name)
    if is_plugin_spec(name):
        return check_builder(load_attribute(name, "model", MODEL_FORMS, _is_builder, "model builder"), name)
    points = entry_points(MODEL_ENTRY_POINT_GROUP)
    if name in points:
        return check_builder(load_entry_point(name, MODEL_ENTRY_POINT_GROUP), name)
    raise UnknownNameError("model", name, sorted({*MODELS.names(), *points}))


def _is_builder(obj: Any) -> bool:
    if not callable(obj):
        return False
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    positional = [p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_rest = any(p.kind is p.VAR_POSITIONAL for p in params.values())
    return takes_rest or len(positional) >= len(BUILDER_PARAMETERS)


def check_builder(obj: Any, spec: str) -> Any:
    """``obj`` if it can be called as ``obj(input_shape, num_classes, **args)``, else a one-line
    :class:`~regbench.plugins.PluginError` saying what it is."""
    if _is_builder(obj):
        return obj
    what = f"class {obj.__qualname__}" if inspect.isclass(obj) else type(obj).__name__
    raise PluginError(
        f"model '{spec}' is not a model builder (it is a {what}); it must be callable as "
        "(input_shape, num_classes, **model_args), e.g. an nn.Module subclass with that __init__"
    )


def model_code(name: str) -> str | None:
    """A model plugin's code identity for its run key (its file and the local modules it
    imports: :func:`regbench.plugins.code_identity`); None for a registered built-in."""
    return code_identity(lookup_model(name), name, MODEL_ENTRY_POINT_GROUP)


def unknown_arguments(name: str, args) -> list[str]:
    """The keys of ``args`` that model ``name``'s builder does not take (a builder with ``**kwargs`` takes all).

    A regularizer that is a constructor change (``dropout``, ``norm``, stochastic depth's
    ``drop_path``) applies only to models that have its argument: ``drop_path`` needs residual
    blocks, which ``mlp`` and ``cnn`` lack.
    """
    params = inspect.signature(lookup_model(name)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return []
    return [k for k in args if k not in params]


def build_model(name: str, info, **args):
    """Build model ``name`` (registered, or a plugin: :func:`lookup_model`) for a dataset
    described by ``info`` (a DatasetInfo).

    A builder is called as ``fn(info.input_shape, info.num_classes, **args)``; one that also
    declares an ``info`` parameter (e.g. ``seq2seq``, which reads the vocabularies) gets it.
    """
    builder = lookup_model(name)
    unknown = unknown_arguments(name, args)
    if unknown:
        takers = [m for m in MODELS.names() if not unknown_arguments(m, dict.fromkeys(unknown))]
        raise ValueError(
            f"model '{name}' has no argument {', '.join(unknown)} (models that have: {', '.join(takers) or 'none'})"
        )
    wants_info = "info" in inspect.signature(builder).parameters
    return builder(info.input_shape, info.num_classes, **({"info": info} if wants_info else {}), **args)
