"""Regularizers (docs/architecture.md, Regularizers). Each module registers its classes into ``REGULARIZERS``."""

from regbench.registry import Registry
from regbench.regularizers.base import Regularizer

REGULARIZERS: Registry[type[Regularizer]] = Registry("regularizer", base=Regularizer)


def register_regularizer(name: str):
    """Class decorator: ``@register_regularizer("mixup")``."""
    return REGULARIZERS.register(name)


# Explicit list of modules that register regularizers (timm-style; a test checks that every
# file of this package is listed, so a new regularizer cannot be silently left out).
REGULARIZER_MODULES = [
    "regbench.regularizers.erm",
    "regbench.regularizers.penalties",
    "regbench.regularizers.optim",
    "regbench.regularizers.dropout",
    "regbench.regularizers.early_stopping",
    "regbench.regularizers.augment",
    "regbench.regularizers.mix",
    "regbench.regularizers.label_smoothing",
    "regbench.regularizers.norms",
    "regbench.regularizers.clipping",
    "regbench.regularizers.recipes",
    "regbench.regularizers.sequence",
    "regbench.regularizers.specaugment",
    "regbench.regularizers.spectral_decoupling",
    "regbench.regularizers.irm",
    "regbench.regularizers.vrex",
    "regbench.regularizers.group_dro",
    "regbench.regularizers.feature_alignment",
    "regbench.regularizers.fishr",
    "regbench.regularizers.random_erasing",
    "regbench.regularizers.trivialaugment",
    "regbench.regularizers.augmix",
    "regbench.regularizers.stochastic_depth",
    "regbench.regularizers.sam",
    "regbench.regularizers.ema",
    "regbench.regularizers.swa",
    "regbench.regularizers.swad",
]
