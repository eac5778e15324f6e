"""Model builders. Each module registers ``fn(input_shape, num_classes, **args) -> nn.Module``.

Arguments a regularizer may override (``dropout``, ``norm``) are ordinary keyword arguments,
so that "architecture as a regularizer" is just a constructor change.
"""

from regbench.registry import Registry

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


def unknown_arguments(name: str, args) -> list[str]:
    """The keys of ``args`` that model ``name``'s builder does not take (a builder with ``**kwargs`` takes all).

    A regularizer that is a constructor change (``dropout``, ``norm``, stochastic depth's
    ``drop_path``) applies only to models that have its argument: ``drop_path`` needs residual
    blocks, which ``mlp`` and ``cnn`` lack.
    """
    import importlib
    import inspect

    for module in MODEL_MODULES:
        importlib.import_module(module)
    params = inspect.signature(MODELS.get(name)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return []
    return [k for k in args if k not in params]


def build_model(name: str, info, **args):
    """Build the registered model ``name`` for a dataset described by ``info`` (a DatasetInfo).

    A builder is called as ``fn(info.input_shape, info.num_classes, **args)``; one that also
    declares an ``info`` parameter (e.g. ``seq2seq``, which reads the vocabularies) gets it.
    """
    import importlib
    import inspect

    for module in MODEL_MODULES:  # the registry is complete even before catalog.load_all()
        importlib.import_module(module)
    builder = MODELS.get(name)
    unknown = unknown_arguments(name, args)
    if unknown:
        takers = [m for m in MODELS.names() if not unknown_arguments(m, dict.fromkeys(unknown))]
        raise ValueError(
            f"model '{name}' has no argument {', '.join(unknown)} (models that have: {', '.join(takers) or 'none'})"
        )
    wants_info = "info" in inspect.signature(builder).parameters
    return builder(info.input_shape, info.num_classes, **({"info": info} if wants_info else {}), **args)
