"""Loading regularizers by registered name, module path, file path and entry point (regbench.regularizers.plugins)."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import pytest
from plugin_registry import clean_registry  # noqa: F401  (autouse fixture)

from regbench.cli import main
from regbench.registry import UnknownNameError
from regbench.regularizers import REGULARIZERS
from regbench.regularizers.base import Regularizer
from regbench.regularizers.build import lookup
from regbench.regularizers.plugins import PluginError, module_name_for

PLUGIN = '''
from regbench import Regularizer, register_regularizer

@register_regularizer("{name}")
class {cls}(Regularizer):
    """A test plugin."""
    kind = "penalty"
    def __init__(self, lam: float = 0.1):
        self.lam = lam
    def penalty(self, model, batch):
        return self.lam * batch.logits.pow(2).mean()

class NotOne:
    pass
'''


def write_plugin(path, name="tp_file", cls="FilePlugin"):
    path.write_text(PLUGIN.format(name=name, cls=cls))
    return path


def test_registered_name_is_looked_up_in_the_registry():
    cls = lookup("mixup")
    assert cls is REGULARIZERS.get("mixup") and issubclass(cls, Regularizer)


def test_file_path_loads_the_class_and_registers_it(tmp_path):
    path = write_plugin(tmp_path / "my_plugin.py")
    cls = lookup(f"{path}:FilePlugin")
    assert cls.__name__ == "FilePlugin" and issubclass(cls, Regularizer)
    assert REGULARIZERS.get("tp_file") is cls  # @register_regularizer ran on import
    assert lookup(f"{path}:FilePlugin") is cls  # executed once per process, then cached


def test_same_file_imported_twice_reregisters_without_error_but_a_different_class_raises(tmp_path):
    path = write_plugin(tmp_path / "twice.py", name="tp_twice", cls="Twice")
    first = lookup(f"{path}:Twice")
    # the same file imported a second time under another module name (e.g. by module path)
    spec = importlib.util.spec_from_file_location("regbench_plugin_other_name", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["regbench_plugin_other_name"] = mod
    spec.loader.exec_module(mod)
    assert mod.Twice is not first and REGULARIZERS.get("tp_twice") is mod.Twice
    # a genuinely different class under the same name is still an error
    other = write_plugin(tmp_path / "other.py", name="tp_twice", cls="Twice")
    with pytest.raises(PluginError, match="already registered"):
        lookup(f"{other}:Twice")


def test_module_path_imports_the_module(tmp_path, monkeypatch):
    pkg = tmp_path / "tp_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    write_plugin(pkg / "plug.py", name="tp_module", cls="ModPlugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    cls = lookup("tp_pkg.plug:ModPlugin")
    assert cls.__module__ == "tp_pkg.plug" and REGULARIZERS.get("tp_module") is cls


def test_entry_point_of_an_installed_distribution(tmp_path, monkeypatch):
    (tmp_path / "tp_epmod.py").write_text(PLUGIN.replace('@register_regularizer("{name}")\n', "").format(cls="EpReg"))
    dist = tmp_path / "tp_regbench_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tp-regbench-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[regbench.regularizers]\ntp_entry = tp_epmod:EpReg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cls = lookup("tp_entry")
    assert cls.__name__ == "EpReg" and cls.__module__ == "tp_epmod"
    with pytest.raises(UnknownNameError, match="Did you mean: tp_entry"):  # suggestions include entry points
        lookup("tp_entyr")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("{d}/missing.py:X", "plugin file '{d}/missing.py' not found"),
        ("{d}/plug.py:Nope", "plugin file '{d}/plug.py' has no class 'Nope'; it defines: FilePlugin"),
        ("tp_no_such_pkg.mod:X", "cannot import module 'tp_no_such_pkg.mod'"),
        ("{d}/plug.py:NotOne", "is not a Regularizer subclass (it is a class"),
        ("{d}/plug.py:", "expected a registered name, package.module:Class"),
        ("mixupp", "unknown regularizer 'mixupp'. Did you mean: mixup"),
    ],
)
def test_each_failure_has_its_own_one_line_error(tmp_path, spec, message):
    write_plugin(tmp_path / "plug.py")
    with pytest.raises((PluginError, UnknownNameError)) as info:
        lookup(spec.format(d=tmp_path))
    text = str(info.value)
    assert message.format(d=tmp_path) in text and "\n" not in text


def test_a_plugin_file_that_fails_to_import_says_so(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("import tp_definitely_missing_module\n")
    with pytest.raises(PluginError, match="plugin file .*broken.py' failed to import: ModuleNotFoundError"):
        lookup(f"{bad}:X")
    assert module_name_for(bad.resolve()) not in sys.modules  # a failed import leaves nothing behind


def test_cli_compare_reports_a_missing_plugin_in_one_line(tmp_path, capsys):
    code = main(
        [
            "compare",
            f"{tmp_path}/nope.py:X",
            "--suite",
            "smoke",
            "--store",
            str(tmp_path / "s.sqlite"),
            "--no-leaderboard",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: plugin file") and "not found" in err and "\n" not in err
    assert not (tmp_path / "s.sqlite").exists()  # failed before the store was even opened


def test_a_suite_may_name_a_plugin_file(tmp_path):
    plug = write_plugin(tmp_path / "suite_plugin.py", name="tp_in_suite", cls="InSuite")
    suite = tmp_path / "s.yaml"
    suite.write_text(
        textwrap.dedent(f"""
        name: plug
        seeds: [0]
        train: {{epochs: 1}}
        benchmarks: [{{name: d, dataset: digits, model: mlp, shift: none}}]
        regularizers: [erm, {{name: "{plug}:InSuite", lam: 0.2}}, {{name: "{plug}:InSuite", lam: bad}}]
    """)
    )
    assert main(["validate", str(suite)]) == 1  # lam: bad is reported with its field path
    suite.write_text(suite.read_text().replace(', {name: "' + str(plug) + ':InSuite", lam: bad}', ""))
    assert main(["validate", str(suite)]) == 0
