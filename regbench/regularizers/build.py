"""Turn a regularizer config into a :class:`Stack` of constructed regularizers."""

from __future__ import annotations

from typing import Any

from regbench.catalog import load_all
from regbench.config import RegularizerConfig
from regbench.regularizers import REGULARIZERS
from regbench.regularizers.base import Regularizer
from regbench.regularizers.plugins import construct, resolve
from regbench.regularizers.stack import Stack


def lookup(name: str) -> type[Regularizer]:
    """A regularizer class by registered name, ``module:Class``, ``file.py:Class`` or entry point.

    See :mod:`regbench.regularizers.plugins`; raises ``UnknownNameError`` or ``PluginError`` (one line).
    """
    load_all()
    if name in REGULARIZERS:
        return REGULARIZERS.get(name)
    return resolve(name, REGULARIZERS)


def build_stack(cfg: RegularizerConfig, params: tuple[dict[str, Any], ...]) -> Stack:
    """Construct each member with its resolved params; a single member is wrapped too.
    A plugin that exits or is interrupted while constructed raises a one-line ``PluginError``."""
    members = [construct(lookup(s.name), p, s.name) for s, p in zip(cfg.stack, params)]
    if len(members) == 1 and isinstance(members[0], Stack):
        return members[0]
    return Stack(members)
