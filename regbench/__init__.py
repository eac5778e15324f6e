"""regbench: benchmark regularizers under distribution shift.

Public API (imported lazily so that ``import regbench`` and the CLI start fast)::

    from regbench import Regularizer, register_regularizer, load_suite, run_suite
    from regbench import load_runs, get_benchmark  # results as a DataFrame, splits as tensors
"""

from __future__ import annotations

from regbench.version import __version__  # noqa: F401 (public)

_LAZY = {
    "Regularizer": ("regbench.regularizers.base", "Regularizer"),
    "Batch": ("regbench.regularizers.base", "Batch"),
    "History": ("regbench.regularizers.base", "History"),
    "SetupContext": ("regbench.regularizers.base", "SetupContext"),
    "register_regularizer": ("regbench.regularizers", "register_regularizer"),
    "load_suite": ("regbench.harness.plan", "load_suite"),
    "run_suite": ("regbench.api", "run_suite"),
    "load_runs": ("regbench.api", "load_runs"),
    "get_benchmark": ("regbench.api", "get_benchmark"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'regbench' has no attribute '{name}'")
