"""Model builders. Each module registers ``fn(input_shape, num_classes, **args) -> nn.Module``.

Arguments a regularizer may override (``dropout``, ``norm``) are ordinary keyword arguments,
so that "architecture as a regularizer" is just a constructor change.
"""

from regbench.registry import Registry

MODELS: Registry = Registry("model")


def register_model(name: str):
    """Function decorator: ``@register_model("mlp")``."""
    return MODELS.register(name)


MODEL_MODULES = ["regbench.models.mlp", "regbench.models.cnn", "regbench.models.resnet", "regbench.models.vit"]
