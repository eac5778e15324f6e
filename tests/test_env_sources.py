"""Training environments from metadata: WILDS through its grouper, shapes' nuisance factor as domains.

WILDS data here is the tiny on-disk fixture (tests/fixtures_real.py) in the published layout.
"""

from __future__ import annotations

import fixtures_real as fx
import pytest
import torch
import yaml

from regbench.cli import main
from regbench.config import ConfigError, parse_suite
from regbench.data.shapes import BACKGROUNDS, COLOURS, load_shapes, render_shapes
from regbench.data.wilds_data import load_wilds
from regbench.harness.plan import plan_suite
from regbench.shifts.predefined import Predefined
from regbench.shifts.shape_domains import ShapeDomains
from regbench.store import Store

# ---------------------------------------------------------------- WILDS


@pytest.fixture(scope="module")
def wilds_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("wilds")
    fx.make_waterbirds(root, per_cell=10)
    fx.make_camelyon17(root)
    return root


def test_waterbirds_environments_are_wilds_background_by_label_groups(wilds_root):
    loaded = load_wilds("waterbirds", seed=0, root=str(wilds_root), image_size=8)
    for name, part in loaded.parts.items():
        # WILDS' groupby_fields ['background', 'y']: the first field varies fastest
        assert torch.equal(part.meta["env"], part.meta["background"] + 2 * part.y), name
    assert sorted(torch.unique(loaded.parts["train"].meta["env"]).tolist()) == [0, 1, 2, 3]
    assert loaded.info.details["env_fields"] == ["background", "y"] and "env" in loaded.info.factors
    # predefined keeps the dataset's parts, and with them the environments, through train and val
    splits = Predefined().apply(loaded, seed=0)
    assert torch.equal(splits.train.meta["env"], loaded.parts["train"].meta["env"])
    assert torch.equal(splits.val.meta["env"], loaded.parts["val"].meta["env"])
    off = load_wilds("waterbirds", seed=0, root=str(wilds_root), image_size=8, environments=False)
    assert "env" not in off.parts["train"].meta and off.info.details["env_fields"] == []


def test_camelyon17_environments_are_the_training_hospitals(wilds_root):
    loaded = load_wilds("camelyon17", seed=0, root=str(wilds_root), image_size=8)
    train = loaded.parts["train"]
    assert torch.equal(train.meta["env"], train.meta["hospital"])
    assert sorted(torch.unique(train.meta["env"]).tolist()) == [0, 3, 4]  # 1 is OOD val, 2 the test


def wilds_suite(root, regularizers: list, dataset_args: dict | None = None) -> dict:
    args = {"root": str(root), "image_size": 8, **(dataset_args or {})}
    bench = {"name": "wb", "dataset": "wilds:waterbirds", "dataset_args": args, "model": "mlp",
             "model_args": {"width": 16}, "shift": {"kind": "predefined"}}  # fmt: skip
    return {"name": "wb", "seeds": [0], "train": {"epochs": 2, "batch_size": 16, "lr": 3e-3},
            "benchmarks": [bench], "regularizers": regularizers}  # fmt: skip


def test_irm_on_waterbirds_loads_and_trains_and_refuses_with_environments_off(wilds_root, tmp_path, isolated_cache):
    assert len(plan_suite(parse_suite(wilds_suite(wilds_root, ["erm", "irm", "group_dro"]))).runs) == 3
    with pytest.raises(ConfigError, match=r"'irm' cannot run on benchmarks\[0\] 'wb'.*has 1"):
        plan_suite(parse_suite(wilds_suite(wilds_root, ["irm"], {"environments": False})))
    path, store = tmp_path / "wb.yaml", tmp_path / "wb.sqlite"
    path.write_text(yaml.safe_dump(wilds_suite(wilds_root, ["group_dro"])))
    assert main(["run", str(path), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    (rec,) = Store(store).records()
    assert rec["status"] in ("ok", "collapsed")  # collapsed: at chance after this tiny budget, still a recorded result
    # per-environment validation over the 4 background × label groups of WILDS' val split
    assert {f"val/env{e}" for e in range(4)} <= set(rec["metrics"])


# ---------------------------------------------------------------- shapes


@pytest.fixture(scope="module")
def shapes():
    return load_shapes(0, n=240, image_size=12)


def test_shape_domains_deal_every_example_to_a_training_background_and_hold_one_out(shapes):
    splits = ShapeDomains().apply(shapes, seed=0)
    names = list(BACKGROUNDS)
    for name in ("train", "val", "test_id"):
        ex = getattr(splits, name)
        counts = torch.bincount(ex.meta["env"]).tolist()
        assert len(counts) == 4 and max(counts) - min(counts) <= 1  # dealt in turn
        assert torch.equal(ex.meta["background"], ex.meta["env"])  # env i = background i, the 5th held out
        # the image is the shape re-rendered on the environment's background, the rest as drawn
        m = ex.meta
        again = render_shapes(m["shape"], m["colour"], m["size"], m["pos_x"], m["pos_y"], m["background"], 12)
        assert torch.equal(ex.x, again)
        assert torch.equal(ex.y, m["shape"])
    (ood_name,) = splits.ood
    assert ood_name == "background_maroon"
    ood = splits.ood[ood_name]
    assert torch.all(ood.meta["background"] == names.index("maroon")) and "env" not in ood.meta
    assert torch.equal(ood.y, splits.test_id.y)
    assert ShapeDomains().training_envs() == 4
    assert splits.split_info[ood_name]["train_domains"] == names[:4]


def test_shape_domains_on_colour_with_chosen_domains(shapes):
    shift = ShapeDomains({"factor": "colour", "domains": ["red", "green", "blue"], "test_domain": "red"})
    assert shift.training_envs() == 2
    splits = shift.apply(shapes, seed=0)
    colours = list(COLOURS)
    env_colour = torch.tensor([colours.index("green"), colours.index("blue")])
    assert torch.equal(splits.train.meta["colour"], env_colour[splits.train.meta["env"]])
    assert torch.all(splits.ood["colour_red"].meta["colour"] == colours.index("red"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"test_domain": "pink"}, "unknown background"),
        ({"domains": ["black", "grey"]}, "≥ 3 distinct"),
        ({"domains": ["black", "grey", "navy"], "test_domain": "maroon"}, "not one of domains"),
        ({"factor": "size"}, "factor"),
    ],
)
def test_shape_domains_refuse_bad_params(params, message):
    with pytest.raises(ValueError, match=message):
        ShapeDomains(params)


def test_shape_domains_refuse_data_without_shape_factors():
    from regbench.data.digits import load_digits

    with pytest.raises(ValueError, match="shape_domains re-renders shapes.*lacks"):
        ShapeDomains().apply(load_digits(0), seed=0)


def shapes_suite(shift: dict) -> dict:
    bench = {"name": "sh", "dataset": "shapes", "dataset_args": {"n": 300, "image_size": 12}, "model": "mlp",
             "model_args": {"width": 16}, "shift": shift}  # fmt: skip
    return {"name": "sh", "seeds": [0], "train": {"epochs": 2, "batch_size": 64, "lr": 3e-3},
            "benchmarks": [bench], "regularizers": ["irm"]}  # fmt: skip


def test_irm_runs_on_shapes_with_environments_and_refuses_without(tmp_path):
    with pytest.raises(ConfigError, match=r"'irm' cannot run on benchmarks\[0\] 'sh'.*has 1") as err:
        plan_suite(parse_suite(shapes_suite({"kind": "none"})))
    assert len(str(err.value).splitlines()) == 1
    path, store = tmp_path / "sh.yaml", tmp_path / "sh.sqlite"
    path.write_text(yaml.safe_dump(shapes_suite({"kind": "shape_domains"})))
    assert main(["run", str(path), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    (rec,) = Store(store).records()
    assert rec["status"] in ("ok", "collapsed") and len(rec["curves"]["train_loss"]) == 2
    m = rec["metrics"]
    assert {f"val/env{e}" for e in range(4)} <= set(m) and "ood/background_maroon" in m
    assert 0.0 < m["ood/background_maroon"]["accuracy"] < 1.0
