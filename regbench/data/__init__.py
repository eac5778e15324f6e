"""Dataset sources. Each module registers one loader function into ``DATASETS``.

A loader is ``fn(seed: int, **params) -> Loaded``; its keyword parameters (with type hints
and defaults) are what a suite may set under ``dataset_args``.
"""

from regbench.registry import Registry

DATASETS: Registry = Registry("dataset")


def register_dataset(name: str):
    """Function decorator: ``@register_dataset("digits")``."""
    return DATASETS.register(name)


DATASET_MODULES = [
    "regbench.data.digits",
    "regbench.data.shapes",
    "regbench.data.cifar",
    "regbench.data.wilds_data",
    "regbench.data.hub",
    "regbench.data.scan",
]
