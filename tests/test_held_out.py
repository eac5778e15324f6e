"""Held-out shards: the ood suite's covariate, label and spurious benchmarks score disjoint images,
every test split records how many distinct images it holds, and a changed rule misses the cache."""

import pytest
import torch
import yaml
from conftest import tiny_suite

import regbench
import regbench.harness.plan as plan_module
from regbench.cli import main
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.harness.plan import load_suite
from regbench.catalog import registries
from regbench.harness.run_one import fingerprint
from regbench.shifts.held_out import MIN_SHARD_IMAGES

DIGITS_BENCHMARKS = {"digits-c": "covariate", "digits-labelshift": "label", "colored_mnist": "spurious"}


def grey_rows(x: torch.Tensor) -> set[bytes]:
    """Each image as bytes of its grey level: colored_mnist's channels sum back to the digit."""
    grey = x.sum(dim=1) if x.shape[1] > 1 else x[:, 0]
    return {row.numpy().tobytes() for row in grey.flatten(1).contiguous()}


@pytest.fixture(scope="module")
def ood_splits():
    return {name: regbench.get_benchmark("ood", name) for name in [*DIGITS_BENCHMARKS, "shapes-compositional"]}


def test_ood_suite_digits_benchmarks_test_on_disjoint_images(ood_splits):
    images = {name: grey_rows(ood_splits[name].test_id.x) for name in DIGITS_BENCHMARKS}
    names = list(images)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not images[a] & images[b], f"{a} and {b} share test images"
    # the pool is dealt out whole: the three shards together are digits' 450 held-out images
    assert sum(len(v) for v in images.values()) == ood_splits["digits-c"].split_info["test_id"]["held_out_pool"]
    for name, family in DIGITS_BENCHMARKS.items():
        splits = ood_splits[name]
        for split, info in [("test_id", splits.split_info["test_id"]), *splits.split_info.items()]:
            assert info["held_out"] == "shard" and info["held_out_shard"] == family, (name, split)
    # inside a benchmark the OOD splits stay on its own shard (CIFAR-10-C's convention)
    label = ood_splits["digits-labelshift"]
    for ex in label.ood.values():
        assert grey_rows(ex.x) <= images["digits-labelshift"]
    cov = ood_splits["digits-c"]
    assert {len(ex) for ex in cov.ood.values()} == {len(cov.test_id)}
    assert len(ood_splits["colored_mnist"].ood["test_env"]) == len(ood_splits["colored_mnist"].test_id)


def test_every_test_split_records_unique_images(ood_splits):
    for name, splits in ood_splits.items():
        for split, ex in {"test_id": splits.test_id, **splits.ood}.items():
            unique = splits.split_info[split]["unique_images"]
            assert unique == len(torch.unique(ex.x.flatten(1), dim=0)), (name, split)
            assert 0 < unique <= len(ex)


def toy(n_test: int, classes: int = 5) -> Loaded:
    def part(n: int, start: int) -> Examples:
        return Examples(
            torch.arange(start, start + n, dtype=torch.float32).view(-1, 1, 1, 1), torch.arange(n) % classes
        )

    return Loaded(
        DatasetInfo("toy", classes, (1, 1, 1)),
        {"train": part(100, 0), "val": part(50, 1000), "test": part(n_test, 2000)},
    )


def test_a_pool_too_small_for_shards_is_shared_and_says_so():
    small = toy(MIN_SHARD_IMAGES * 4 - 10)  # the smallest share would hold under MIN_SHARD_IMAGES
    splits = registries()["shifts"].get("label")({"dirichlet_alpha": [10.0]}).build(small, seed=0)
    assert splits.test_id is small.parts["test"]
    info = splits.split_info["test_id"]
    assert info["held_out"] == "shared" and "under" in info["held_out_reason"]
    assert info["unique_images"] == len(small.parts["test"])
    large = toy(MIN_SHARD_IMAGES * 4)
    parts = {
        kind: registries()["shifts"].get(kind)(params).build(large, seed=3).test_id
        for kind, params in [("label", {"dirichlet_alpha": [10.0]}), ("covariate", {"corruptions": ["gaussian_noise"]})]
    }
    assert len(parts["label"]) == 2 * len(parts["covariate"]) == MIN_SHARD_IMAGES * 2  # label holds two shares
    assert not set(parts["label"].x.flatten().tolist()) & set(parts["covariate"].x.flatten().tolist())
    # a suite of one family may keep the whole pool (capacity does: its curve is ID test error)
    whole = registries()["shifts"].get("label")({"dirichlet_alpha": [10.0], "held_out": "whole"}).build(large, seed=3)
    assert whole.test_id is large.parts["test"] and whole.split_info["test_id"]["held_out"] == "whole"
    capacity = {r.benchmark.shift_params["held_out"] for r in load_suite("capacity").runs}
    assert capacity == {"whole"}
    with pytest.raises(ValueError, match="held_out"):
        registries()["shifts"].get("covariate")({"held_out": "half"})
    # families outside the rule keep the whole pool
    compositional_free = registries()["shifts"].get("none")().build(large, seed=3)
    assert len(compositional_free.test_id) == len(large.parts["test"])


def test_unique_images_reach_the_store(tmp_path):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(yaml.safe_dump(tiny_suite(seeds=[0], regularizers=["erm"]), sort_keys=False))
    store = tmp_path / "store.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    df = regbench.load_runs(store, suite="tiny")
    rows = df[df["metric"] == "unique_images"].set_index("split")["value"]
    assert set(rows.index) == {"test_id", "ood/gaussian_noise/2", "ood/gaussian_noise/5"}
    assert (rows == 113).all()  # the covariate shard of digits' 450 held-out images


def test_a_changed_held_out_rule_changes_the_cache_fingerprint(monkeypatch):
    benches = {r.benchmark.spec.name: r.benchmark for r in load_suite("ood").runs}
    before = {name: fingerprint(b) for name, b in benches.items()}
    monkeypatch.setattr(plan_module, "HELD_OUT_RULE", "another-rule")
    after = {name: fingerprint(b) for name, b in benches.items()}
    for name in DIGITS_BENCHMARKS:
        assert before[name] != after[name]  # a sharded family's splits are never served stale
    assert before["shapes-compositional"] == after["shapes-compositional"]  # unsharded: untouched
