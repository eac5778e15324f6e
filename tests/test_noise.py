"""Training-set options: label noise (symmetric, class-conditional) and bootstrap resampling."""

import pytest
import torch

from regbench.config import TrainSpec
from regbench.data.base import DatasetInfo, Examples, Splits
from regbench.data.noise import apply_training_options

K = 5


def splits(n=1000):
    y = torch.arange(n) % K
    ex = Examples(torch.arange(n, dtype=torch.float32)[:, None], y)
    val = Examples(torch.zeros(100, 1), torch.arange(100) % K)
    return Splits(ex, val, val, {}, DatasetInfo("toy", K, (1,)))


@pytest.mark.parametrize("kind", ["symmetric", "class_conditional"])
@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5])
def test_rate_achieved_and_val_untouched(kind, rate):
    s = splits()
    td = apply_training_options(s, TrainSpec(label_noise=rate, label_noise_kind=kind), data_seed=0, run_seed=0)
    flipped = td.train.y != s.train.y
    assert flipped.double().mean().item() == pytest.approx(rate, abs=1e-9)
    assert torch.equal(td.val.y, s.val.y) and td.val is s.val
    assert torch.equal(td.train.x, s.train.x)  # labels change, inputs do not
    if rate:
        assert torch.equal(td.train.meta["clean_label"], s.train.y)
    if kind == "class_conditional":  # pair flip c → c+1, the same rate within every class
        assert torch.equal(td.train.y[flipped], (s.train.y[flipped] + 1) % K)
        for c in range(K):
            in_c = s.train.y == c
            assert flipped[in_c].double().mean().item() == pytest.approx(rate)


def test_same_noisy_labels_across_run_seeds_new_ones_for_a_new_data_seed():
    s = splits()
    spec = TrainSpec(label_noise=0.3)
    a = apply_training_options(s, spec, data_seed=0, run_seed=0).train.y
    b = apply_training_options(s, spec, data_seed=0, run_seed=7).train.y
    c = apply_training_options(s, spec, data_seed=1, run_seed=0).train.y
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_bootstrap_varies_with_the_run_seed_only():
    s = splits()
    spec = TrainSpec(data_resample="bootstrap")
    a = apply_training_options(s, spec, data_seed=0, run_seed=0).train
    a2 = apply_training_options(s, spec, data_seed=0, run_seed=0).train
    b = apply_training_options(s, spec, data_seed=0, run_seed=1).train
    assert len(a) == len(s.train)
    assert torch.equal(a.x, a2.x)
    assert not torch.equal(a.x, b.x)
    # a bootstrap sample repeats examples: about 1 − 1/e ≈ 63 % are distinct
    assert 0.55 < len(torch.unique(a.x)) / len(a) < 0.72
    assert torch.equal(a.y, s.train.y[a.x[:, 0].long()])  # labels travel with their inputs


def test_no_options_leave_the_training_set_alone():
    s = splits()
    td = apply_training_options(s, TrainSpec(), data_seed=0, run_seed=3)
    assert td.train is s.train


def test_out_of_range_rate_is_rejected():
    with pytest.raises(ValueError, match="label_noise"):
        TrainSpec(label_noise=1.0)
