"""Commands that need no torch never import it (python -X importtime in a subprocess): `--help`
and every command's `--help`, every `list`, `validate regularizers`, `validate SUITE` and `data
status` (issue #27, start-up). They read the built-in registry entries from
`regbench.catalog.declared`, which must equal the live registries (checked here, so it cannot go
stale); tests/test_declared_planning.py checks that a suite's plan and errors are the same either way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from regbench.catalog import load_all
from regbench.catalog.declared import CATALOG
from regbench.catalog.describe import live_catalog
from regbench.catalog.signatures import declared_class
from regbench.cli import main
from regbench.commands import COMMANDS
from regbench.params import params_model

REPO = Path(__file__).resolve().parents[1]
TORCH_FREE = [
    ("--help",),
    *[(command, "--help") for command in COMMANDS],
    *[("list", what) for what in ("suites", "regularizers", "models", "datasets", "shifts")],
    ("validate", "regularizers"),
    ("validate", "suites/regularizers.yaml"),
    *[("validate", f"suites/{suite}.yaml") for suite in ("ood", "shift_baselines", "audio")],
    ("data", "status"),
]


def cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """``regbench ARGS`` in a fresh interpreter, with ``-X importtime``'s report on stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "REGBENCH_CACHE": str(tmp_path), "REGBENCH_DATA": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "regbench.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )


def imported(*args: str, tmp_path: Path) -> set[str]:
    """The modules ``regbench ARGS`` imports, read from ``-X importtime``'s report."""
    out = cli(*args, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    return {ln.rsplit("|", 1)[1].strip() for ln in out.stderr.splitlines() if ln.startswith("import time:")}


@pytest.mark.parametrize("args", TORCH_FREE, ids=" ".join)
def test_command_never_imports_torch(args, tmp_path):
    modules = imported(*args, tmp_path=tmp_path)
    assert "regbench.commands" in modules  # the report was read
    assert "torch" not in modules
    assert "torchvision" not in modules


def test_declared_catalog_equals_the_live_registries():
    assert live_catalog() == CATALOG, (
        "regbench/catalog/declared.py differs from the registries: run `python -m regbench.catalog.write`"
    )


@pytest.mark.parametrize("name", sorted(CATALOG["regularizers"]))
def test_declared_signature_gives_the_live_parameter_schema(name):
    from regbench.regularizers.build import lookup

    declared, real = params_model(declared_class(name)), params_model(lookup(name))
    assert declared.model_json_schema() == real.model_json_schema()
    assert fields_of(declared) == fields_of(real)


def fields_of(model) -> dict:
    """Each field's annotation (its repr: pydantic's FieldInfo compares by identity), constraints and default."""
    return {p: (repr(f.annotation), f.metadata, f.default, f.is_required()) for p, f in model.model_fields.items()}


def test_declared_class_cannot_be_constructed():
    with pytest.raises(TypeError, match="described here, not constructed"):
        declared_class("l2")(lam=0.1)


@pytest.mark.parametrize(
    "bad",
    [
        "nope: {lam: {uniform: [0, 1]}}",  # unknown: looked up in the live registry
        "l2: {lam: {default: 1.0, log_uniform: [1.0e-6, 1.0e-2]}}",
        "l2: {lamb: {uniform: [0, 1]}}",
        "dropout: {p: {uniform: [0.5, 1.5]}}",  # 1.5 is outside dropout's Rate
        "mixup: {alpha: {default: 0.3, log_uniform: [0.05, 2.0]}}",  # not mixup's own default
        "crop_flip: {padding: {choice: [-1, 2, null]}, flip: {choice: [true, 2]}}",
    ],
)
def test_validate_regularizers_says_what_the_live_classes_say(bad, tmp_path, capsys):
    """A search-space file's errors, read from the declared signatures in a fresh process,
    are those this process gives from the imported classes, word for word."""
    load_all()  # this process: the classes themselves
    path = tmp_path / "regularizers.yaml"
    path.write_text(f"search_spaces:\n  {bad}\n")
    fresh = cli("validate", str(path), tmp_path=tmp_path)
    assert main(["validate", str(path)]) == 1
    assert fresh.returncode == 1
    errors = [ln for ln in fresh.stderr.splitlines() if not ln.startswith("import time:")]
    assert errors == capsys.readouterr().err.splitlines()
