"""Held-out shards: the ood suite's covariate, label and spurious benchmarks score disjoint images,
every test split records how many distinct images it holds, and a changed rule misses the cache.
The ood suite's scored splits hold >= 3,000 images each, no base image twice, and carry the base
image's id (meta["image_id"]) for cluster resampling."""

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
from regbench.shifts.held_out import (
    IMAGE_ID,
    MIN_SHARD_IMAGES,
    held_out_part,
    stratified_halves,
    stratified_subset,
    with_image_ids,
)

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
    # one pool for all three (digits_synth's 40,000 test images): the shards are 1/4, 2/4 and
    # 1/4 of it; covariate keeps 3,000 of its 10,000, spurious 6,000 (3,000 + 3,000) of its 10,000
    pool = ood_splits["digits-c"].split_info["test_id"]["held_out_pool"]
    assert {ood_splits[name].split_info["test_id"]["held_out_pool"] for name in DIGITS_BENCHMARKS} == {pool}
    assert len(ood_splits["digits-labelshift"].test_id) == pool // 2
    colored = ood_splits["colored_mnist"]
    assert not grey_rows(colored.ood["test_env"].x) & images["colored_mnist"]  # its own images, not test_id's
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
    assert torch.equal(splits.test_id.x, small.parts["test"].x)  # all of it, now tagged with image ids
    assert splits.test_id.meta[IMAGE_ID].tolist() == list(range(len(small.parts["test"])))
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
    assert torch.equal(whole.test_id.x, large.parts["test"].x) and whole.split_info["test_id"]["held_out"] == "whole"
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


MIN_SCORED = 3000  # images per scored split: binomial SE <= 0.75 points at p = 0.8


def test_every_ood_benchmark_scores_enough_independent_images(ood_splits):
    for name, splits in ood_splits.items():
        for split, ex in splits.test_splits().items():
            ids = ex.meta[IMAGE_ID]
            assert len(ex) >= MIN_SCORED, (name, split, len(ex))
            assert len(torch.unique(ids)) == len(ex), (name, split)  # no base image twice in a split
            assert splits.split_info[split.removeprefix("ood/")]["base_images"] == len(ex), (name, split)


def test_image_ids_follow_an_image_across_splits(ood_splits):
    cov = ood_splits["digits-c"]
    for split, ex in cov.ood.items():  # every corruption × severity warps the same images, in order
        assert torch.equal(ex.meta[IMAGE_ID], cov.test_id.meta[IMAGE_ID]) and torch.equal(ex.y, cov.test_id.y), split
    comp = ood_splits["shapes-compositional"]
    assert torch.equal(comp.ood["size_extrapolation"].meta[IMAGE_ID], comp.test_id.meta[IMAGE_ID])
    assert not set(comp.ood["heldout_combinations"].meta[IMAGE_ID].tolist()) & set(comp.test_id.meta[IMAGE_ID].tolist())
    colored = ood_splits["colored_mnist"]
    assert not set(colored.ood["test_env"].meta[IMAGE_ID].tolist()) & set(colored.test_id.meta[IMAGE_ID].tolist())
    # the shards' ids index one pool, so the three digits benchmarks' ids are disjoint too
    ids = [set(ood_splits[name].test_id.meta[IMAGE_ID].tolist()) for name in DIGITS_BENCHMARKS]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


def test_label_shift_splits_sample_without_replacement_from_their_shard(ood_splits):
    label = ood_splits["digits-labelshift"]
    shard = label.test_id.meta[IMAGE_ID]
    for split, ex in label.ood.items():
        ids = ex.meta[IMAGE_ID]
        assert len(torch.unique(ids)) == len(ex) == label.split_info[split]["requested_size"], split
        assert torch.isin(ids, shard).all(), split
        assert label.split_info[split]["sampling"] == "without_replacement"
    # the most concentrated prior still fits: dirichlet_0.1 puts most of its mass on one class
    assert max(label.split_info["dirichlet_0.1/0"]["achieved_prior"]) > 0.5


def test_image_ids_come_from_the_loader_when_it_draws_several_images_of_one_base():
    base = Examples(
        torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2]), {"source_index": torch.tensor([0, 1, 2] * 2)}
    )
    assert with_image_ids(base).meta[IMAGE_ID].tolist() == [0, 1, 2, 0, 1, 2]  # warps of a digit: one cluster
    plain = Examples(torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 0, 1]))
    assert with_image_ids(plain).meta[IMAGE_ID].tolist() == [0, 1, 2, 3]


def test_stratified_subset_and_halves_keep_class_shares():
    ex = with_image_ids(Examples(torch.rand(1000, 1, 1, 1), torch.arange(1000) % 4 // 3))  # classes 0 (750), 1 (250)
    small, large = stratified_subset(ex, 100, seed=0), stratified_subset(ex, 400, seed=0)
    assert torch.bincount(small.y).tolist() == [75, 25] and torch.bincount(large.y).tolist() == [300, 100]
    assert set(small.meta[IMAGE_ID].tolist()) <= set(large.meta[IMAGE_ID].tolist())  # a larger cap keeps the smaller's
    assert stratified_subset(ex, 5000, seed=0) is ex
    a, b = stratified_halves(ex, seed=0)
    assert len(a) == len(b) == 500 and torch.bincount(a.y).tolist() == [375, 125]
    assert not set(a.meta[IMAGE_ID].tolist()) & set(b.meta[IMAGE_ID].tolist())
    part, info = held_out_part(ex, "covariate", seed=0, size=100)
    assert len(part) == 100 and info["held_out_size"] == 100 and info["held_out"] == "shard"
