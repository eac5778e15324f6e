"""Test helper: plugins register themselves on import; undo that after each test."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def clean_registry():
    """Restore the regularizer registry and forget plugin modules imported during the test,
    so the next test that loads the same file executes (and registers) it again."""
    from regbench.catalog import load_all
    from regbench.regularizers import REGULARIZERS

    load_all()
    before = dict(REGULARIZERS._items)
    modules = set(sys.modules)
    yield
    REGULARIZERS._items.clear()
    REGULARIZERS._items.update(before)
    for name in set(sys.modules) - modules:
        if name.startswith(("regbench_plugin_", "tp_")):
            sys.modules.pop(name, None)
