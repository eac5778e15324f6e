"""The layout holds: imports flow forward along the pipeline, no circles, every registering file listed.

registry/config → data → shifts → models → regularizers → plan → metrics → evaluate → tasks →
train → store → harness → report → commands → cli (docs/architecture.md, "Stages"). Every
``import`` in a module counts, at the top or inside a function: a module may import only its
own stage or earlier ones, and no set of modules may import each other in a circle.
``report/`` never imports torch (it works from records alone).
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "regbench"
REPO = PKG.parent

# module-name prefix → stage; the longest matching prefix wins
STAGES = {
    "regbench.version": 0,
    "regbench.registry": 0,
    "regbench.seeding": 0,
    "regbench.params": 0,
    "regbench.plugins": 0,  # loading user code: shared by models and regularizers
    "regbench.config": 0,
    "regbench.data": 1,
    "regbench.shifts": 2,
    "regbench.models": 3,
    "regbench.regularizers": 4,
    "regbench.catalog": 4,
    "regbench.harness.plan": 5,
    "regbench.harness.applicability": 5,  # the plan's applicability checks and row kinds
    "regbench.sweep": 5,
    "regbench.metrics": 6,
    "regbench.evaluate": 7,
    "regbench.tasks": 8,
    "regbench.train": 9,
    "regbench.store": 10,
    "regbench.harness": 11,
    "regbench.report": 12,
    "regbench.commands": 13,
    "regbench.api": 13,
    "regbench.cli": 14,
    "regbench": 14,
}
TORCH_FREE = ("regbench.report", "regbench.store", "regbench.config", "regbench.cli", "regbench.commands")
# top-level modules allowed beside the stage packages (docs/architecture.md, "Layout")
TOP_LEVEL = {
    "__init__",
    "api",
    "catalog",
    "cli",
    "params",
    "plugins",
    "registry",
    "seeding",
    "sweep",
    "version",
}


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


MODULES = dict(modules())


def imports_of(path: Path, top_only: bool = False) -> list[str]:
    """Every module ``path`` imports — at the top and inside functions alike (or the top only)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_only else ast.walk(tree)
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from regbench.metrics import sequence` imports regbench.metrics.sequence
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES]
            out += subs or [node.module]
    return out


@pytest.mark.parametrize("module,path", list(MODULES.items()), ids=lambda x: str(x) if isinstance(x, str) else "")
def test_imports_flow_forward(module, path):
    own = stage(module)
    for imported in imports_of(path):
        if imported.startswith("regbench"):
            assert stage(imported) <= own, (
                f"{module} (stage {own}) imports {imported} (stage {stage(imported)}): data must flow one way"
            )
        if module.startswith(TORCH_FREE) and path.parent.name != "executors":
            assert not imported.startswith(("torch", "torchvision")), f"{module} must not import {imported}"


def test_no_import_circles():
    """No module reaches itself through imports, counting those inside functions."""
    graph = {m: {i for i in imports_of(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    # a package's __init__ runs before any of its modules: importing a.b from outside a imports a
    for m in list(graph):
        graph[m] |= {
            parent
            for i in graph[m]
            for parent in _parents(i)
            if parent in MODULES and parent != m and not m.startswith(parent + ".")
        }
    circles = []
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                circles.append(" → ".join(trail[trail.index(n) :] + [n]) if n in trail else f"{m} → {n}")
            elif n not in state:
                visit(n, trail + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    circles = [c for c in circles if not _is_package_edge(c)]
    assert not circles, "import circles:\n" + "\n".join(circles)


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:k]) for k in range(2, len(parts))]


def _is_package_edge(circle: str) -> bool:
    """``a → a.b → a``: a package importing its own module, which Python resolves (not a circle of files)."""
    hops = circle.split(" → ")
    return all(b.startswith(a + ".") or a.startswith(b + ".") for a, b in zip(hops, hops[1:]))


# the report's own pipeline: statistics → tables of rows and cells → rendered files; a module
# of one of these subpackages imports none of a later one (the report stays one stage above)
REPORT_STAGES = {"regbench.report.stats": 0, "regbench.report.table": 1, "regbench.report.render": 2}
MAX_REPORT_TOP = 8  # modules directly in report/, __init__ included: the rest lives in a stage


def report_stage(module: str) -> int | None:
    return next((n for p, n in REPORT_STAGES.items() if module == p or module.startswith(p + ".")), None)


@pytest.mark.parametrize("module", [m for m in MODULES if report_stage(m) is not None])
def test_report_stages_flow_forward(module):
    own = report_stage(module)
    for imported in imports_of(MODULES[module]):
        later = report_stage(imported)
        assert later is None or later <= own, f"{module} imports {imported}: stats → table → render, never back"


def test_report_top_level_is_small():
    top = sorted(p.stem for p in (PKG / "report").glob("*.py"))
    assert len(top) <= MAX_REPORT_TOP, f"report/ holds {len(top)} modules {top}: move some into stats/, table/, render/"


def test_top_level_holds_only_the_named_modules():
    loose = {p.stem for p in PKG.glob("*.py")} - TOP_LEVEL
    assert not loose, f"modules at the top of regbench/ that belong in a stage package: {sorted(loose)}"


def test_docs_cited_from_code_exist_in_the_repository():
    """Every ``docs/….md``, ``*.md``, ``tests/….py`` or ``suites/….yaml`` a docstring or comment names is a file here."""
    cited = re.compile(
        r"(?<![\w/.-])((?:docs|tests|benchmarks|examples|suites)/[\w./-]+\.(?:md|py|yaml)|[A-Z][A-Z_]+\.md)"
    )
    missing = []
    for path in [*PKG.rglob("*.py"), *REPO.glob("docs/*.md"), REPO / "README.md"]:
        for ref in set(cited.findall(path.read_text())):
            if not (REPO / ref).exists():
                missing.append(f"{path.relative_to(REPO)} cites {ref}")
    assert not missing, "references to files that are not in the repository:\n" + "\n".join(sorted(missing))


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
    import sys

    code = "import sys, regbench.report, regbench.commands.leaderboard; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


MAX_FUNCTION_LINES = 80
SHORT_FUNCTION_PACKAGES = ("train", "harness")  # harness/ includes harness/executors/


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int, int]]:
    """(name, first line, lines) of every function or method in ``source`` longer than ``limit``
    lines, decorators left out and nested functions counted on their own as well."""
    return [
        (node.name, node.lineno, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit
    ]


def test_long_functions_finds_nested_and_async_ones():
    """The check below can fail: an 81-line nested function is found, and one of 80 is not."""
    body = "".join(f"        x{i} = {i}\n" for i in range(79))
    source = f"def outer():\n    async def inner():\n{body}        return x0\n    return inner\n"
    assert long_functions(source) == [("outer", 1, 83), ("inner", 2, 81)]
    assert long_functions(source.replace("        return x0\n", "")) == [("outer", 1, 82)]


@pytest.mark.parametrize("package", SHORT_FUNCTION_PACKAGES)
def test_no_function_over_80_lines(package):
    """Functions in train/ and harness/ stay short enough to read whole: a longer one is split
    by job into named functions."""
    found = [
        f"{path.relative_to(REPO)}:{line} {name} ({lines} lines)"
        for path in sorted((PKG / package).rglob("*.py"))
        for name, line, lines in long_functions(path.read_text())
    ]
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines, split them by job: " + "; ".join(found)
