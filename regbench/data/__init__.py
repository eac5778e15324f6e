"""Dataset sources. Each module registers one loader function into ``DATASETS``.

A loader is ``fn(seed: int, **params) -> Loaded``; its keyword parameters (with type hints
and defaults) are what a suite may set under ``dataset_args``.
"""

import functools
from dataclasses import replace

from regbench.registry import Registry

DATASETS: Registry = Registry("dataset")


def one_training_env(**dataset_args) -> int:
    """A loader's ``training_envs`` unless it declares its own: 1, no environments (named, not a
    lambda, so that ``catalog.declared`` can tell a loader that declares its own)."""
    return 1


def register_dataset(name: str, task: str = "classification", modality: str = "image", training_envs=None):
    """Function decorator: ``@register_dataset("scan", task="seq2seq", modality="text")``.

    ``task`` (a name in :mod:`regbench.tasks`) and ``modality`` (one of
    ``regbench.data.base.MODALITIES``) are declared here and nowhere else: the loader carries
    them as ``.task`` and ``.modality`` (read when a suite loads, before any data is) and
    every :class:`~regbench.data.base.Loaded` it returns has ``info.task`` and
    ``info.modality`` set to them. ``training_envs(**dataset_args) -> int``: how many
    training environments the loader's ``meta["env"]`` holds (default: 1, none), read when a
    suite loads for shifts that keep the dataset's environments (``Shift.keeps_dataset_envs``).
    """

    def deco(fn):
        @functools.wraps(fn)
        def loader(*args, **kwargs):
            loaded = fn(*args, **kwargs)
            if (loaded.info.task, loaded.info.modality) != (task, modality):
                loaded = type(loaded)(replace(loaded.info, task=task, modality=modality), loaded.parts)
            return loaded

        loader.task = task
        loader.modality = modality
        loader.training_envs = training_envs or one_training_env
        return DATASETS.register(name)(loader)

    return deco


DATASET_MODULES = [
    "regbench.data.digits",
    "regbench.data.digits_large",
    "regbench.data.digits_synth",
    "regbench.data.shapes",
    "regbench.data.cifar",
    "regbench.data.wilds_data",
    "regbench.data.hub",
    "regbench.data.scan",
    "regbench.data.audio_commands",
    "regbench.data.speech_commands",
    "regbench.data.mnist",
]
