"""Imports flow forward along the pipeline (STYLE.md §1), and every registering file is listed.

config → data → shifts → models → regularizers → plan → train → evaluate → store → runner →
report. A module may import only from its own stage or earlier ones; ``report/`` never
imports torch (it works from records alone).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "regbench"

# module-name prefix → stage; the longest matching prefix wins
STAGES = {
    "regbench.registry": 0,
    "regbench.seeding": 0,
    "regbench.params": 0,
    "regbench.config": 0,
    "regbench.data": 1,
    "regbench.shifts": 2,
    "regbench.models": 3,
    "regbench.regularizers": 4,
    "regbench.catalog": 4,
    "regbench.plan": 5,
    "regbench.train": 6,
    "regbench.seq_metrics": 6,
    "regbench.metrics": 6,
    "regbench.evaluate": 7,
    "regbench.evaluate_seq": 7,
    "regbench.tasks": 6,
    "regbench.store": 8,
    "regbench.runner": 9,
    "regbench.prepare": 9,
    "regbench.executors": 9,
    "regbench.executor_ray": 9,
    "regbench.executor_slurm": 9,
    "regbench.progress": 9,
    "regbench.checkpoint": 6,
    "regbench.plugins": 4,
    "regbench.execution": 6,
    "regbench.calibration": 6,
    "regbench.diagnose": 11,
    "regbench.diagnostics": 10,
    "regbench.report": 10,
    "regbench.leaderboard": 10,
    "regbench.export": 10,
    "regbench.selection": 10,
    "regbench.verdict": 10,
    "regbench.compare": 11,
    "regbench.compare_report": 11,
    "regbench.sweep": 5,
    "regbench.sweep_run": 11,
    "regbench.cli": 12,
    "regbench.api": 12,
    "regbench": 12,
}
TORCH_FREE = (
    "regbench.report",
    "regbench.store",
    "regbench.config",
    "regbench.diagnostics",
    "regbench.selection",
    "regbench.verdict",
)


def stage(module: str) -> int:
    best = max((p for p in STAGES if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise KeyError(f"module {module} has no stage in tests/test_architecture.py: give it one")
    return STAGES[best]


def modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts)
        yield name.removesuffix(".__init__"), path


def imports_of(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "regbench":  # `from regbench import metrics` imports regbench.metrics
                out += [f"regbench.{a.name}" for a in node.names]
            else:
                out.append(node.module)
    return out


@pytest.mark.parametrize("module,path", list(modules()), ids=lambda x: str(x) if isinstance(x, str) else "")
def test_imports_flow_forward(module, path):
    own = stage(module)
    for imported in imports_of(path):
        if imported.startswith("regbench"):
            assert stage(imported) <= own or module in ("regbench", "regbench.cli", "regbench.api"), (
                f"{module} (stage {own}) imports {imported} (stage {stage(imported)}): data must flow one way"
            )
        if module.startswith(TORCH_FREE):
            assert not imported.startswith(("torch", "torchvision")), f"{module} must not import {imported}"


@pytest.mark.parametrize(
    "package,listing",
    [
        ("data", "DATASET_MODULES"),
        ("shifts", "SHIFT_MODULES"),
        ("models", "MODEL_MODULES"),
        ("regularizers", "REGULARIZER_MODULES"),
    ],
)
def test_every_registering_file_is_listed(package, listing):
    import importlib

    listed = set(getattr(importlib.import_module(f"regbench.{package}"), listing))
    for path in sorted((PKG / package).glob("*.py")):
        if path.name == "__init__.py":
            continue
        code = ast.unparse(ast.parse(path.read_text()))  # without comments and docstrings' quoting
        if "@register_" in code or "register_dataset(" in code:
            assert f"regbench.{package}.{path.stem}" in listed, f"{path.name} registers but is not in {listing}"
    for name in listed:
        assert (PKG / package / f"{name.rsplit('.', 1)[1]}.py").exists(), f"{listing} lists missing {name}"


def test_report_runs_without_torch():
    """Importing the report package must not pull torch in (checked in a fresh interpreter)."""
    import subprocess
    import sys

    code = "import sys, regbench.report, regbench.leaderboard; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
