"""The one generic registry (docs/architecture.md, Conventions: Registries) and the `regbench list` command."""

import pytest

from regbench.cli import main
from regbench.registry import Registry, UnknownNameError


class Base:
    pass


def test_register_get_and_names():
    reg = Registry("widget", base=Base)

    @reg.register("b")
    class B(Base):
        """B widget."""

    @reg.register("a")
    class A(Base):
        pass

    assert reg.get("b") is B and reg.names() == ["a", "b"] and "a" in reg and B.registered_name == "b"


def test_duplicate_name_raises():
    reg = Registry("widget")

    def first():
        return 1

    def second():
        return 2

    reg.register("x")(first)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("x")(second)


def test_wrong_base_raises_type_error():
    reg = Registry("widget", base=Base)
    with pytest.raises(TypeError, match="must be a subclass of Base"):
        reg.register("y")(int)


def test_unknown_name_suggests_and_lists():
    reg = Registry("widget")
    for n in ("mixup", "cutmix", "erm"):
        reg.register(n)(lambda: None)
    with pytest.raises(UnknownNameError) as exc:
        reg.get("mixpu")
    msg = str(exc.value)
    assert "unknown widget 'mixpu'" in msg and "Did you mean: mixup" in msg and "Available: cutmix, erm, mixup" in msg


@pytest.mark.parametrize(
    "what,expected",
    [
        (
            "regularizers",
            [
                "erm",
                "l2",
                "weight_decay",
                "l1",
                "elastic_net",
                "dropout",
                "dropout_0.5",
                "early_stopping",
                "crop_flip",
                "color_jitter",
                "randaugment",
                "autoaugment",
                "mixup",
                "cutmix",
                "label_smoothing",
                "batchnorm",
                "layernorm",
                "groupnorm",
                "rmsnorm",
                "grad_clip",
                "modern_recipe",
            ],
        ),
        ("models", ["mlp", "cnn"]),
        ("datasets", ["digits", "shapes"]),
        ("shifts", ["covariate", "label", "spurious", "compositional", "drift", "none"]),
        ("suites", ["smoke", "ood"]),
    ],
)
def test_list_prints_name_then_description(what, expected, capsys):
    assert main(["list", what]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert set(expected) <= set(names)
    assert names == sorted(names)
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines), "every item needs a description"
