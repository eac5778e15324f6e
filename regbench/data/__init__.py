"""Dataset sources. Each module registers one loader function into ``DATASETS``.

A loader is ``fn(seed: int, **params) -> Loaded``; its keyword parameters (with type hints
and defaults) are what a suite may set under ``dataset_args``.
"""

import functools
from dataclasses import replace

from regbench.registry import Registry

DATASETS: Registry = Registry("dataset")


def register_dataset(name: str, task: str = "classification"):
    """Function decorator: ``@register_dataset("scan", task="seq2seq")``.

    ``task`` (a name in :mod:`regbench.tasks`) is declared here and nowhere else: the loader
    carries it as ``.task`` (read when a suite loads, before any data is) and every
    :class:`~regbench.data.base.Loaded` it returns has ``info.task`` set to it.
    """

    def deco(fn):
        @functools.wraps(fn)
        def loader(*args, **kwargs):
            loaded = fn(*args, **kwargs)
            if loaded.info.task != task:
                loaded = type(loaded)(replace(loaded.info, task=task), loaded.parts)
            return loaded

        loader.task = task
        return DATASETS.register(name)(loader)

    return deco


DATASET_MODULES = [
    "regbench.data.digits",
    "regbench.data.shapes",
    "regbench.data.cifar",
    "regbench.data.wilds_data",
    "regbench.data.hub",
    "regbench.data.scan",
    "regbench.data.mnist",
]
