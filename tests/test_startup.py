"""Commands that need no torch never import it (python -X importtime in a subprocess): `--help`,
`list suites` and `data status`. (`validate` and `list regularizers` still resolve the registries,
which import torch: issue #27, start-up.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported(*args: str, tmp_path: Path) -> set[str]:
    """The modules ``regbench ARGS`` imports, read from ``-X importtime``'s report."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "REGBENCH_CACHE": str(tmp_path), "REGBENCH_DATA": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "regbench.cli", *args], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return {ln.rsplit("|", 1)[1].strip() for ln in out.stderr.splitlines() if ln.startswith("import time:")}


@pytest.mark.parametrize("args", [("--help",), ("list", "suites"), ("data", "status")])
def test_command_never_imports_torch(args, tmp_path):
    modules = imported(*args, tmp_path=tmp_path)
    assert "regbench.commands" in modules  # the report was read
    assert "torch" not in modules
