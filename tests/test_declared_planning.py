"""`regbench validate SUITE` plans from catalog.declared's stand-ins, without torch: its plan and
its every error must be those of the registered objects. Each test plans in a fresh interpreter
(the stand-ins) and in this one, whose registries are loaded (the objects themselves)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import tiny_suite

from regbench.catalog import load_all
from regbench.catalog.declared import CATALOG
from regbench.catalog.stacks import DeclaredConflict, member_facts, stack_from_catalog
from regbench.cli import main
from regbench.config import RegularizerConfig, suite_files
from regbench.params import resolve_params

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

# what a plan decides, run by run: printed as JSON by a fresh interpreter (FRESH_PLAN)
PLAN_FIELDS = """
def plan_rows(path):
    from regbench.harness.plan import load_suite

    return [
        [r.name, r.kind, r.benchmark.loader, r.benchmark.dataset_args, r.benchmark.model_args,
         r.benchmark.shift_params, r.benchmark.model_code, list(r.reg_params), list(r.code)]
        for r in load_suite(path).runs
    ]
"""
FRESH_PLAN = (
    PLAN_FIELDS
    + """
import json, sys
rows = plan_rows(sys.argv[1])
print(json.dumps({"torch": "torch" in sys.modules, "rows": rows}))
"""
)


def fresh(*args: str, code: str | None = None, tmp_path: Path) -> subprocess.CompletedProcess:
    """``python -c CODE ARGS`` (else ``regbench ARGS``) in a fresh interpreter from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "REGBENCH_CACHE": str(tmp_path), "REGBENCH_DATA": str(tmp_path)}
    argv = ["-c", code, *args] if code else ["-m", "regbench.cli", *args]
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, cwd=REPO)


def live_rows(path) -> list:
    """This interpreter's plan rows, from the loaded registries, as JSON would give them back."""
    load_all()
    scope: dict = {}
    exec(PLAN_FIELDS, scope)
    return json.loads(json.dumps(scope["plan_rows"](str(path))))


@pytest.mark.parametrize("path", suite_files(), ids=lambda p: p.stem)
def test_shipped_suite_plans_as_with_the_registries(path, tmp_path):
    out = fresh(str(path), code=FRESH_PLAN, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    assert got["rows"] == live_rows(path)
    assert not got["torch"]


def bench(**changes) -> dict:
    return {**tiny_suite()["benchmarks"][0], **changes}


BAD = {
    "unknown dataset": tiny_suite(benchmarks=[bench(dataset="digts")]),
    "unknown model": tiny_suite(benchmarks=[bench(model="mpl")]),
    "unknown shift": tiny_suite(benchmarks=[bench(shift={"kind": "covarite"})]),
    "corruption": tiny_suite(benchmarks=[bench(shift={"kind": "covariate", "corruptions": ["gausian_noise"]})]),
    "model args": tiny_suite(benchmarks=[bench(model_args={"widht": 3, "norm": "batchnorm"})]),
    "model module arg": tiny_suite(benchmarks=[bench(model="audio_cnn", model_args={"spectrogram_augment": 3})]),
    "dataset args": tiny_suite(benchmarks=[bench(dataset_args={"val_fraction": "half", "seed": 1})]),
    "domainbed envs": tiny_suite(benchmarks=[bench(shift={"kind": "colored_mnist_domainbed", "test_envs": [0, 1, 2]})]),
    "shape domains": tiny_suite(benchmarks=[bench(shift={"kind": "shape_domains", "domains": ["navy", "teal"]})]),
    "owned hooks": tiny_suite(regularizers=[["sam", "asam"], ["ema", "swa"]]),
    "model arguments": tiny_suite(
        regularizers=[["batchnorm", "layernorm"], [{"name": "dropout", "p": 0.2}, "dropout_0.5"]]
    ),
    "recipe in a stack": tiny_suite(regularizers=[["modern_recipe", "weight_decay"]]),
    "needs environments": tiny_suite(regularizers=["erm", "irm", ["l2", "vrex"]]),
    "audio inputs": tiny_suite(
        benchmarks=[bench(dataset="audio_commands", model="audio_cnn", model_args={}, shift={"kind": "none"})],
        regularizers=["erm", "crop_flip", "modern_recipe"],
    ),
    "seq2seq": tiny_suite(
        benchmarks=[
            bench(dataset="scan", model="seq2seq", model_args={}, shift={"kind": "none"}, train={"label_noise": 0.1})
        ],
        regularizers=["erm", "mixup"],
    ),
    "not applicable": tiny_suite(
        benchmarks=[{**bench(), "not_applicable": ["erm", "irm", "nope"]}], regularizers=["erm", "irm"]
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_validate_says_what_the_registered_objects_say(case, tmp_path, capsys):
    """A bad suite's errors from the stand-ins (a fresh process), word for word those of the
    objects themselves (this process)."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(BAD[case], sort_keys=False))
    out = fresh("validate", str(path), tmp_path=tmp_path)
    load_all()
    assert main(["validate", str(path)]) == 1
    assert out.returncode == 1
    assert out.stderr.splitlines() == capsys.readouterr().err.splitlines()


def stack_or_error(names: list[str], build) -> object:
    """``build(names)``'s member facts, or its conflict message."""
    try:
        return build(names)
    except ValueError as err:
        return str(err)


def live_stack(names: list[str]) -> object:
    from regbench.regularizers.build import build_stack, lookup

    cfg = RegularizerConfig.model_validate({"stack": names})
    params = tuple(resolve_params(lookup(n), {}) for n in names)
    return tuple(member_facts(m) for m in build_stack(cfg, params).members)


def test_declared_stacks_conflict_as_the_classes_do():
    """Every stack of one or two built-in regularizers: the declared facts give the members and
    the conflict message the classes give, or leave the stack to them (both set one model argument)."""
    load_all()
    names = sorted(CATALOG["regularizers"])
    sets = {n: set(CATALOG["regularizers"][n]["stack"]["overrides"]) for n in names}
    left_to_classes = []
    for stack in [[a] for a in names] + [[a, b] for a in names for b in names]:
        declared = stack_or_error(stack, lambda n: getattr(stack_from_catalog(n), "members", None))
        if declared is None:
            left_to_classes.append(stack)
            continue
        assert declared == stack_or_error(stack, live_stack), stack
    assert left_to_classes  # e.g. batchnorm with layernorm: whether they agree is the values' to say
    assert all(len(s) == 2 and sets[s[0]] & sets[s[1]] for s in left_to_classes)


def test_declared_conflict_is_a_value_error():
    with pytest.raises(DeclaredConflict, match="more than one regularizer defines first_step: sam, asam"):
        stack_from_catalog(["sam", "asam"])


def test_declared_references_import_no_torch(tmp_path):
    """The shifts' parameter models and the loaders' training_envs that ``catalog.declared``
    names stand in for the registered objects because importing them costs no torch."""
    code = (
        "import sys\n"
        "from regbench.catalog.declared import CATALOG\n"
        "from regbench.catalog.planning import attribute\n"
        "for e in CATALOG['shifts'].values(): attribute(e['params'])\n"
        "for e in CATALOG['datasets'].values(): e['training_envs'] and attribute(e['training_envs'][0])\n"
        "print('torch' in sys.modules)"
    )
    out = fresh(code=code, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    assert all(e["params"] for kind in ("shifts", "datasets") for e in CATALOG[kind].values())
    assert any(e["training_envs"] for e in CATALOG["datasets"].values())  # WILDS' are referenced


def test_entry_point_groups_are_the_registries():
    from regbench.catalog.signatures import ENTRY_POINTS
    from regbench.models import MODEL_ENTRY_POINT_GROUP
    from regbench.regularizers.plugins import ENTRY_POINT_GROUP

    assert ENTRY_POINTS == {
        "models": ("model", MODEL_ENTRY_POINT_GROUP),
        "regularizers": ("regularizer", ENTRY_POINT_GROUP),
    }
