"""What ``regbench list`` prints, from the cheapest source that is complete: the declared
built-in entries in a process that has not imported the registering modules, else the live
registries (which may hold plugins, and cost nothing more once imported)."""

from __future__ import annotations

from typing import Any

from regbench.catalog import live


def catalog(kind: str) -> dict[str, Any]:
    """``{"modalities": (…), kind: {name: entry}}``, entries as ``catalog.describe`` writes them."""
    if live(kind):
        from regbench.catalog.describe import live_catalog  # imports every registering module

        return live_catalog()
    from regbench.catalog.declared import CATALOG

    return CATALOG
