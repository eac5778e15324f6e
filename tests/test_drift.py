"""Concept drift: nested label swaps between paired classes, growing over time slices."""

import pytest
import torch
from pydantic import ValidationError

import regbench.shifts.drift  # noqa: F401  (registers "drift")
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.digits import load_digits
from regbench.shifts import SHIFTS

# split_info entries become keyword arguments of the evaluator's rows: these names would clash.
RESERVED = {"split", "metric", "value", "n"}


@pytest.fixture(scope="module")
def digits():
    return load_digits(0)


def drift(**params):
    return SHIFTS.get("drift")(params)


def test_relabelled_fraction_follows_the_spec(digits):
    splits = drift(swap_fraction=0.2, slices=4).apply(digits, seed=0)
    test = digits.parts["test"]
    assert sorted(splits.ood) == ["slice_1", "slice_2", "slice_3", "slice_4"]
    pairs = splits.split_info["slice_1"]["swapped_pairs"]
    assert len(pairs) == 1  # 0.2 of 10 classes = one pair
    a, b = pairs[0]
    swappable = int(((test.y == a) | (test.y == b)).sum())
    previous = torch.zeros(len(test), dtype=torch.bool)
    for t in range(1, 5):
        ex, info = splits.ood[f"slice_{t}"], splits.split_info[f"slice_{t}"]
        changed = ex.y != test.y
        assert int(changed.sum()) == round(t / 4 * swappable)
        assert info["relabelled_fraction"] == pytest.approx(float(changed.double().mean()))
        # Balanced classes (≈ 45 per class): the fraction is ≈ t/T · swap_fraction.
        assert info["relabelled_fraction"] == pytest.approx(t / 4 * 0.2, abs=0.02)
        # Only the paired classes change, and each to its partner.
        assert set(test.y[changed].tolist()) <= {a, b}
        assert torch.equal(ex.y[changed], torch.where(test.y[changed] == a, b, a))
        assert torch.all(changed[previous])  # nested: earlier relabelling is kept
        previous = changed
        assert torch.equal(ex.x, test.x) and torch.equal(ex.meta["relabelled"], changed.long())
    assert splits.split_info["slice_4"]["swapped_class_relabel_rate"] == 1.0
    assert not any(RESERVED & v.keys() for v in splits.split_info.values())


def test_id_splits_carry_no_drift(digits):
    splits = drift(swap_fraction=0.6, slices=2).apply(digits, seed=1)
    assert len(splits.split_info["slice_1"]["swapped_pairs"]) == 3  # 6 of 10 classes
    for name in ("train", "val", "test"):
        loaded_part = digits.parts[name]
        split = {"train": splits.train, "val": splits.val, "test": splits.test_id}[name]
        assert torch.equal(split.y, loaded_part.y) and torch.equal(split.x, loaded_part.x)
    assert splits.split_info["test_id"]["relabelled_fraction"] == 0.0


def test_partner_map_is_an_involution_and_seeded(digits):
    infos = [
        drift(swap_fraction=0.4).apply(digits, seed=s).split_info["slice_1"]["swapped_pairs"] for s in (0, 0, 1, 2, 3)
    ]
    assert infos[0] == infos[1]
    assert len({str(i) for i in infos}) > 1
    for pairs in infos:
        flat = [c for p in pairs for c in p]
        assert len(flat) == len(set(flat)) == 4


def test_bad_params_and_data_are_refused():
    for bad in ({"swap_fraction": 0.0}, {"swap_fraction": 1.5}, {"slices": 0}, {"swap": 0.2}):
        with pytest.raises(ValidationError):
            SHIFTS.get("drift")(bad)
    one = Examples(torch.zeros(4, 1, 2, 2), torch.zeros(4, dtype=torch.int64))
    data = Loaded(DatasetInfo("one-class", 1, (1, 2, 2)), {"train": one, "val": one, "test": one})
    with pytest.raises(ValueError, match="only 1"):
        drift().apply(data, seed=0)
