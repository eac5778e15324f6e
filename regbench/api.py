"""Python entry points mirroring the CLI."""

from __future__ import annotations

from pathlib import Path

from regbench.harness.plan import load_suite
from regbench.harness.run_plan import run_plan
from regbench.store import DEFAULT_STORE, Store


def run_suite(
    suite: str | Path,
    store: str | Path = DEFAULT_STORE,
    workers: int | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, int]:
    """Plan ``suite`` (name or path) and train every run missing from ``store``; return counts."""
    return run_plan(load_suite(suite), Store(store), workers=workers, device=device, progress=progress)
