"""Label shift: re-sampled test priors hit their targets; the TV distance is recorded correctly."""

import numpy as np
import pytest
import torch
from pydantic import ValidationError

import regbench.shifts.label  # noqa: F401  (registers "label")
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.shifts import SHIFTS

# split_info entries become keyword arguments of the evaluator's rows: these names would clash.
RESERVED = {"split", "metric", "value", "n"}

K = 5


def part(counts: list[int], start: int) -> Examples:
    """Examples with the given per-class counts; x holds a unique id per example."""
    y = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    ids = torch.arange(start, start + len(y), dtype=torch.float32)
    return Examples(ids.view(-1, 1, 1, 1), y)


def loaded() -> Loaded:
    # A skewed training prior, so that "TV to the training prior" differs from TV to uniform.
    parts = {"train": part([50, 30, 10, 5, 5], 0), "val": part([10] * K, 1000), "test": part([40] * K, 2000)}
    return Loaded(DatasetInfo("toy", K, (1, 1, 1)), parts)


def shift(**params):
    return SHIFTS.get("label")(params)


def prior(y: torch.Tensor) -> list[float]:
    return [float((y == k).sum()) / len(y) for k in range(K)]


def test_splits_names_and_untouched_id_parts():
    data = loaded()
    splits = shift(dirichlet_alpha=[0.1, 10.0], draws_per_alpha=2, tweak_one=[0.9]).apply(data, seed=0)
    assert sorted(splits.ood) == [
        "dirichlet_0.1/0",
        "dirichlet_0.1/1",
        "dirichlet_10/0",
        "dirichlet_10/1",
        "tweak_one_0.9",
    ]
    assert splits.train is data.parts["train"] and splits.val is data.parts["val"]
    # test_id is the whole (shared) test part, tagged with each image's cluster id
    assert torch.equal(splits.test_id.x, data.parts["test"].x) and torch.equal(splits.test_id.y, data.parts["test"].y)
    assert splits.test_id.meta["image_id"].tolist() == list(range(len(data.parts["test"])))
    test_ids = set(data.parts["test"].x.flatten().tolist())
    for name, ex in splits.ood.items():
        assert len(ex) <= len(data.parts["test"])  # at most the size of the test part
        ids = ex.x.flatten().tolist()
        assert set(ids) <= test_ids  # drawn from the test part only
        assert len(set(ids)) == len(ids) == splits.split_info[name]["unique_images"]  # no image twice
        assert splits.split_info[name]["family"] == "label"
        assert not RESERVED & splits.split_info[name].keys()
        # x and y stay paired: ids 2000 + 40k .. 2000 + 40k + 39 belong to class k.
        assert torch.equal(((ex.x.flatten() - 2000) // 40).long(), ex.y)


def test_achieved_prior_hits_target_and_tv_is_computed_against_training_prior():
    splits = shift(dirichlet_alpha=[0.3, 1.0, 5.0], tweak_one=[0.5], size=997, sampling="with_replacement").apply(
        loaded(), seed=3
    )
    train_prior = [50 / 100, 30 / 100, 10 / 100, 5 / 100, 5 / 100]
    for name, ex in splits.ood.items():
        info = splits.split_info[name]
        achieved = prior(ex.y)
        assert len(ex) == 997
        # Counts are rounded from target · size: each class within one example of its target.
        assert max(abs(a - t) for a, t in zip(achieved, info["target_prior"])) <= 1 / 997 + 1e-12
        assert info["achieved_prior"] == pytest.approx(achieved)
        by_hand = 0.5 * sum(abs(a - q) for a, q in zip(achieved, train_prior))
        assert info["tv_distance"] == pytest.approx(by_hand, abs=1e-12)
        assert sum(info["target_prior"]) == pytest.approx(1.0)


def test_tweak_one_prior_and_monotone_shift():
    splits = shift(dirichlet_alpha=[], tweak_one=[0.2, 0.6, 0.95]).apply(loaded(), seed=1)
    infos = [splits.split_info[f"tweak_one_{r:g}"] for r in (0.2, 0.6, 0.95)]
    tweaked = infos[0]["class"]
    assert all(i["class"] == tweaked for i in infos)  # one class for all ρ
    for rho, info in zip((0.2, 0.6, 0.95), infos):
        expected = [(1 - rho) / (K - 1)] * K
        expected[tweaked] = rho
        assert info["target_prior"] == pytest.approx(expected)
        ex = splits.ood[f"tweak_one_{rho:g}"]
        assert prior(ex.y)[tweaked] == pytest.approx(rho, abs=1 / len(ex))  # rounding: within one example


def test_small_alpha_gives_larger_shift_on_average():
    data = loaded()
    tv = {a: [] for a in (0.1, 100.0)}
    for seed in range(6):
        info = shift(dirichlet_alpha=[0.1, 100.0]).apply(data, seed=seed).split_info
        for a, values in tv.items():
            values.append(info[f"dirichlet_{a:g}/0"]["tv_distance"])
    assert sum(tv[0.1]) / 6 > sum(tv[100.0]) / 6 + 0.2


def test_deterministic_and_named_seeds():
    data = loaded()
    a = shift(dirichlet_alpha=[1.0]).apply(data, seed=5)
    b = shift(dirichlet_alpha=[0.1, 1.0]).apply(data, seed=5)  # adding an α leaves α = 1 alone
    c = shift(dirichlet_alpha=[1.0]).apply(data, seed=6)
    assert torch.equal(a.ood["dirichlet_1/0"].x, b.ood["dirichlet_1/0"].x)
    assert a.split_info["dirichlet_1/0"]["target_prior"] != c.split_info["dirichlet_1/0"]["target_prior"]


def test_bad_params_and_data_are_refused():
    for bad in ({"dirichlet_alpha": [0.0]}, {"tweak_one": [1.5]}, {"size": 0}, {"draws_per_alpha": 0}, {"alpha": [1]}):
        with pytest.raises(ValidationError):
            shift(**bad)
    data = loaded()
    empty_class = Loaded(data.info, {**data.parts, "test": part([40, 40, 40, 40, 0], 2000)})
    with pytest.raises(ValueError, match="class 4"):
        shift(tweak_one=[0.5]).apply(empty_class, seed=0)
    with pytest.raises(ValueError, match="no part"):
        shift().apply(Loaded(data.info, {"train": data.parts["train"]}), seed=0)


def test_without_replacement_shrinks_to_what_the_pool_holds():
    # 40 test images per class; tweak-one at 0.8 can hold 40 / 0.8 = 50 images, 40 of the tweaked class
    splits = shift(dirichlet_alpha=[], tweak_one=[0.8]).apply(loaded(), seed=0)
    ex, info = splits.ood["tweak_one_0.8"], splits.split_info["tweak_one_0.8"]
    assert len(ex) == 50 and info["unique_images"] == 50 and info["requested_size"] == 200
    assert prior(ex.y)[info["class"]] == pytest.approx(0.8)
    assert info["sampling"] == "without_replacement"
    # the old behaviour, opt-in: the requested size, with repeated images
    rep = shift(dirichlet_alpha=[], tweak_one=[0.8], sampling="with_replacement").apply(loaded(), seed=0)
    assert len(rep.ood["tweak_one_0.8"]) == 200 and rep.split_info["tweak_one_0.8"]["unique_images"] < 200


def test_feasible_size_and_rounding():
    from regbench.shifts.label import feasible_size, prior_counts

    available = np.array([40, 40, 40, 40, 0])
    p = np.array([0.5, 0.2, 0.2, 0.099, 0.001])  # the last class is absent but rounds to 0 at n <= 80
    n = feasible_size(p, available, 1000)
    assert n == 80 and (prior_counts(p, n) <= available).all()
    assert feasible_size(p, available, 30) == 30
    assert feasible_size(np.array([0.0, 0, 0, 0, 1.0]), available, 100) == 0
