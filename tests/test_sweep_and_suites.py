"""``sweep_model_args`` expansion and the diagnostics suites (capacity, stacking, inductive_bias)."""

import itertools

import pytest

from regbench.cli import main
from regbench.config import ConfigError, parse_suite
from regbench.harness.plan import load_suite

BASE = {"name": "s", "seeds": [0], "regularizers": ["erm"]}


def bench(**kw):
    return {"name": "b", "dataset": "digits", "model": "mlp", **kw}


def test_sweep_expands_into_one_benchmark_per_value():
    s = parse_suite(
        {
            **BASE,
            "benchmarks": [bench(model_args={"depth": 1}, sweep_model_args={"width": [4, 64]}), bench(name="plain")],
        }
    )
    assert [b.name for b in s.benchmarks] == ["b-width4", "b-width64", "plain"]
    assert [b.model_args for b in s.benchmarks] == [{"depth": 1, "width": 4}, {"depth": 1, "width": 64}, {}]


def test_several_args_give_the_cartesian_product():
    s = parse_suite({**BASE, "benchmarks": [bench(sweep_model_args={"width": [4, 8], "depth": [1, 2]})]})
    assert [b.name for b in s.benchmarks] == [
        "b-width4-depth1",
        "b-width4-depth2",
        "b-width8-depth1",
        "b-width8-depth2",
    ]


@pytest.mark.parametrize(
    "sweep, match",
    [
        ([4, 8], "non-empty mapping"),
        ({}, "non-empty mapping"),
        ({"width": []}, "non-empty list of distinct values"),
        ({"width": 8}, "non-empty list of distinct values"),
        ({"width": [8, 8]}, "non-empty list of distinct values"),
        ({"depth": [1, 2]}, "also set in model_args"),
    ],
)
def test_bad_sweeps_are_clear_errors(sweep, match):
    with pytest.raises(ConfigError, match=match) as err:
        parse_suite({**BASE, "benchmarks": [bench(model_args={"depth": 1}, sweep_model_args=sweep)]}, "f.yaml")
    assert str(err.value).startswith("f.yaml: benchmarks[0].sweep_model_args")


def test_expanded_benchmarks_are_validated_like_written_ones(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nseeds: [0]\nregularizers: [erm]\nbenchmarks:\n"
        "  - {name: b, dataset: digits, model: mlp, sweep_model_args: {widht: [4, 8]}}\n"
    )
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "widht" in err and "unknown field" in err


def test_capacity_suite_is_a_double_descent_sweep():
    plan = load_suite("capacity")
    widths = {r.benchmark.model_args["width"] for r in plan.runs}
    noise = {r.train.label_noise for r in plan.runs}
    assert len(widths) >= 8 and noise == {0.0, 0.2}
    assert {r.regularizer.display for r in plan.runs} == {"erm", "weight_decay", "early_stopping", "dropout"}
    assert len({r.train.epochs for r in plan.runs}) == 1  # one fixed budget for every width


def test_stacking_suite_adds_one_regularizer_at_a_time():
    plan = load_suite("stacking")
    stacks = list(dict.fromkeys(tuple(s.name for s in r.regularizer.stack) for r in plan.runs))
    assert stacks[0] == ("erm",)
    for prev, cur in itertools.pairwise(stacks[1:]):
        assert cur[:-1] == prev  # each config is the previous one plus one regularizer
    assert [s[-1] for s in stacks[1:]] == ["weight_decay", "crop_flip", "mixup", "label_smoothing", "dropout"]


def test_inductive_bias_suite_varies_only_the_architecture():
    plan = load_suite("inductive_bias")
    models = {r.benchmark.spec.model for r in plan.runs}
    assert models == {"mlp", "cnn", "vit"}
    assert len({str(r.benchmark.data_key()) for r in plan.runs}) == 1  # same data, split and shifts


def test_recipes_suite_stacks_the_published_recipes_on_a_residual_model():
    plan = load_suite("recipes")
    stacks = {r.regularizer.display: [s.name for s in r.regularizer.stack] for r in plan.runs}
    assert stacks["torchvision_recipe"] == [
        "weight_decay", "trivialaugment", "random_erasing", "mixup_cutmix", "label_smoothing", "ema"
    ]  # fmt: skip
    assert stacks["timm_deit_recipe"] == [
        "weight_decay", "randaugment", "random_erasing", "mixup_cutmix", "label_smoothing", "stochastic_depth", "ema"
    ]  # fmt: skip
    assert stacks["sam+mixup"] == ["sam", "mixup"] and stacks["swad+augs"][0] == "swad" and stacks["erm"] == ["erm"]
    assert {r.benchmark.spec.model for r in plan.runs} == {"resnet18"}  # drop path needs residual branches
    assert {r.kind for r in plan.runs if r.regularizer.display != "erm"} == {"recipe"}
