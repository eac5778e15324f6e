"""``python -m regbench.catalog.write``: rewrite ``regbench/catalog/declared.py`` from the live
registries, after adding, renaming or changing a registered entry (``tests/test_startup.py``
fails until it is rewritten)."""

from __future__ import annotations

import pprint
from pathlib import Path

from regbench.catalog.describe import live_catalog

TARGET = Path(__file__).with_name("declared.py")
HEADER = '''"""The built-in registry entries, described without importing them (written by
``python -m regbench.catalog.write``; do not edit: ``tests/test_startup.py`` compares it with the
live registries). ``params`` of a regularizer, dataset or model: (name, annotation source,
default; ``...`` = required) per parameter a suite sets, None where an annotation cannot be
written (the entry is then imported); of a shift: its parameter model, ``module:Class``.
Regularizer ``stack``: what a suite's stack checks read (``catalog.stacks.MemberFacts``)."""

# fmt: off
CATALOG = '''


def render(catalog: dict) -> str:
    """The module's text: the header and the catalog as a Python literal."""
    return HEADER + pprint.pformat(catalog, width=120, sort_dicts=True) + "\n"


def main() -> None:
    TARGET.write_text(render(live_catalog()))
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
