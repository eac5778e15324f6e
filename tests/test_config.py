"""Every malformed suite stops before training with one clear line: file, field path, expected, found."""

import pytest
from conftest import tiny_suite

from regbench.cli import main
from regbench.config import ConfigError, parse_suite, read_suite_file
from regbench.harness.plan import load_suite, plan_suite


def error_of(suite: dict, path_name: str = "bad.yaml", write=None) -> str:
    path = write(suite, path_name)
    with pytest.raises(ConfigError) as exc:
        load_suite(path)
    return str(exc.value)


CASES = [
    # (change to the tiny suite, substrings the message must contain)
    ({"train": {"epochs": 0}}, ["train.epochs", "greater than or equal to 1", "found 0"]),
    ({"train": {"optimiser": "adam"}}, ["train.optimiser", "unknown field"]),
    ({"train": {"optimizer": "adan"}}, ["train.optimizer", "'adam', 'adamw' or 'sgd'", "found 'adan'"]),
    ({"seeds": [0, 0]}, ["seeds", "distinct"]),
    ({"seeds": []}, ["seeds", "at least 1"]),
    (
        {"regularizers": ["erm", "mixpu"]},
        ["regularizers[1].stack[0].name", "unknown regularizer 'mixpu'", "Did you mean: mixup"],
    ),
    (
        {"regularizers": [{"name": "l1", "lam": "strong"}]},
        ["regularizers[0].stack[0].params.lam", "valid number", "'strong'"],
    ),
    ({"regularizers": [{"name": "l1", "lamda": 0.1}]}, ["regularizers[0].stack[0].params.lamda", "unknown field"]),
    ({"regularizers": ["erm", "erm"]}, ["regularizers", "repeated", "erm"]),
    ({"regularizers": [["label_smoothing", "dropout", {"name": "dropout_0.5"}]]}, ["regularizers[0]", "dropout"]),
]


@pytest.mark.parametrize("change,expected", CASES)
def test_malformed_suite_messages(change, expected, write_suite):
    msg = error_of(tiny_suite(**change), write=write_suite)
    assert "bad.yaml" in msg
    for part in expected:
        assert part in msg, f"{part!r} not in {msg!r}"


def bench(**changes):
    b = dict(tiny_suite()["benchmarks"][0])
    b.update(changes)
    return b


BENCH_CASES = [
    ({"dataset": "digts"}, ["benchmarks[0].dataset", "unknown dataset 'digts'", "Did you mean: digits"]),
    ({"model": "mpl"}, ["benchmarks[0].model", "unknown model 'mpl'", "mlp"]),
    ({"model_args": {"widht": 3}}, ["benchmarks[0].model_args.widht", "unknown field"]),
    ({"model_args": {"norm": "batchnorm"}}, ["benchmarks[0].model_args.norm", "'none', 'batch'"]),
    ({"shift": {"kind": "covarite"}}, ["benchmarks[0].shift.kind", "Did you mean: covariate"]),
    ({"shift": {"kind": "covariate", "severities": [6]}}, ["benchmarks[0].shift.severities", "6"]),
    ({"shift": {"kind": "covariate", "corruptions": ["gausian_noise"]}}, ["gausian_noise", "gaussian_noise"]),
    ({"dataset_args": {"val_fraction": "half"}}, ["benchmarks[0].dataset_args.val_fraction", "'half'"]),
    ({"name": "has space"}, ["benchmarks[0].name", "pattern"]),
    ({"colour": "red"}, ["benchmarks[0].colour", "unknown field"]),
]


@pytest.mark.parametrize("change,expected", BENCH_CASES)
def test_malformed_benchmark_messages(change, expected, write_suite):
    msg = error_of(tiny_suite(benchmarks=[bench(**change)]), write=write_suite)
    for part in expected:
        assert part in msg, f"{part!r} not in {msg!r}"


def test_one_line_per_problem(write_suite):
    msg = error_of(tiny_suite(train={"epochs": -1, "lr": 0}, regularizers=["erm", "mixpu"]), write=write_suite)
    lines = msg.splitlines()
    # structure is checked first (both problems reported), names only once the structure is valid
    assert len(lines) == 2 and all("bad.yaml: " in line for line in lines)
    assert any("train.epochs" in line for line in lines) and any("train.lr" in line for line in lines)


def test_not_yaml_and_missing_file(tmp_path, write_suite):
    path = write_suite("name: [unclosed\n", "broken.yaml")
    with pytest.raises(ConfigError, match=r"broken.yaml: line \d+, column \d+: not valid YAML"):
        read_suite_file(path)
    with pytest.raises(ConfigError, match="no such suite file"):
        read_suite_file(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_suite(["a", "list"], "list.yaml")


def test_unknown_suite_name_suggests():
    with pytest.raises(ConfigError, match="Did you mean: smoke"):
        load_suite("smok")


def test_validate_cli_exit_codes(write_suite, capsys):
    good = write_suite(tiny_suite(), "good.yaml")
    assert main(["validate", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = write_suite(tiny_suite(regularizers=["mixpu"]), "bad.yaml")
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Did you mean: mixup" in err and "Traceback" not in err


def test_every_shipped_suite_validates():
    from regbench.config import SUITES_DIR

    suites = [p for p in sorted(SUITES_DIR.glob("*.yaml")) if p.name != "regularizers.yaml"]
    assert len(suites) >= 2
    for path in suites:
        assert load_suite(path).runs, path


def test_short_forms_and_stack_display():
    s = parse_suite(
        tiny_suite(
            regularizers=[
                "erm",
                {"name": "mixup", "alpha": 0.4},
                ["weight_decay", "mixup"],
                {"stack": ["l1", "dropout"], "label": "sparse-drop"},
            ]
        )
    )
    assert [r.display for r in s.regularizers] == ["erm", "mixup(alpha=0.4)", "weight_decay+mixup", "sparse-drop"]


def test_run_key_ignores_defaults_and_names_but_not_params():
    a = plan_suite(parse_suite(tiny_suite(regularizers=["mixup"]))).runs[0]
    b = plan_suite(parse_suite(tiny_suite(regularizers=[{"name": "mixup", "alpha": 0.2}], name="other"))).runs[0]
    c = plan_suite(parse_suite(tiny_suite(regularizers=[{"name": "mixup", "alpha": 0.3}]))).runs[0]
    assert a.run_key == b.run_key  # explicit default == default; suite name is not part of the key
    assert a.run_key != c.run_key
