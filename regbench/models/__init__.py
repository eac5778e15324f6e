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
    wants_info = "info" in inspect.signature(builder).parameters
    return builder(info.input_shape, info.num_classes, **({"info": info} if wants_info else {}), **args)
