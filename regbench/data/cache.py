"""Split cache. In-process memo for now; the on-disk cache keyed by fingerprint comes with shifts."""

from __future__ import annotations

from collections.abc import Callable

from regbench.data.base import Splits


def cached_splits(fingerprint: str, build: Callable[[], Splits]) -> Splits:
    """Return the splits for ``fingerprint``, building them with ``build()`` when absent."""
    return build()
