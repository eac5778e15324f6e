"""The two ColoredMNIST constructions named for their source, measured on generated data:
Arjovsky et al.'s (``colored_mnist``, separate test-environment images, 14×14 from MNIST) and
DomainBed's (``colored_mnist_domainbed``, pooled into 3 environments at 2×28×28), both read
from fabricated MNIST-format files, and the procedural fallback where MNIST is absent."""

from __future__ import annotations

import pytest
import torch
from test_env_benchmarks import fake_digits, per_env_rates, write_idx

from regbench.data.mnist import load_mnist
from regbench.shifts.colored_mnist import ColoredMNIST
from regbench.shifts.colored_mnist_domainbed import ColoredMNISTDomainBed

N_TRAIN, N_TEST = 6000, 1000  # a tenth of MNIST's 60k + 10k


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """torchvision's MNIST layout with random 28×28 'digits' (labels 0-9 in turn)."""
    root = tmp_path_factory.mktemp("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    files = {
        "train-images-idx3-ubyte": torch.randint(1, 256, (N_TRAIN, 28, 28), generator=g),
        "train-labels-idx1-ubyte": torch.arange(N_TRAIN) % 10,
        "t10k-images-idx3-ubyte": torch.randint(1, 256, (N_TEST, 28, 28), generator=g),
        "t10k-labels-idx1-ubyte": torch.arange(N_TEST) % 10,
    }
    for name, t in files.items():
        write_idx(raw / name, t, gz=True)
    return str(root)


@pytest.fixture(scope="module")
def domainbed(mnist_root):
    return ColoredMNISTDomainBed().build(load_mnist(0, root=mnist_root), seed=0)


def keys(ex) -> set[bytes]:
    """Each image's grey level as bytes (the two channels sum back to the digit)."""
    return {bytes(x.numpy()) for x in (ex.x.sum(1) * 255).round().to(torch.uint8)}


def test_domainbed_pools_every_image_into_three_environments_of_its_sizes(domainbed):
    n = N_TRAIN + N_TEST
    sizes = [len(range(e, n, 3)) for e in range(3)]  # images [i::3] of the shuffled pool
    outs = [int(s * 0.2) for s in sizes]
    assert len(domainbed.train) == sizes[0] - outs[0] + sizes[1] - outs[1]
    assert len(domainbed.val) + len(domainbed.test_id) == outs[0] + outs[1]
    assert abs(len(domainbed.val) - len(domainbed.test_id)) <= 2
    assert set(domainbed.ood) == {"test_env"} and len(domainbed.ood["test_env"]) == sizes[2] - outs[2]
    assert domainbed.info.input_shape == (2, 28, 28) and domainbed.train.x.shape[1:] == (2, 28, 28)
    assert domainbed.split_info["test_env"]["pooled_images"] == n
    assert domainbed.split_info["test_env"]["environment"] == "-90%"
    # the pool holds MNIST's test images too (DomainBed's torch.cat of train and test)
    parts = [domainbed.train, domainbed.val, domainbed.test_id, domainbed.ood["test_env"]]
    seen = [keys(p) for p in parts]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1 :])  # no image in two splits
    assert sum(len(s) for s in seen) == sum(len(p) for p in parts)


def test_domainbed_colour_label_agreement_and_label_noise_per_environment(domainbed):
    # ~1870 training images per env: a rate's standard error ≤ 0.011, so 0.04 is > 3.5 σ
    for split, envs in (("train", {0: 0.1, 1: 0.2}), ("test_env", {2: 0.9})):
        ex = domainbed.ood["test_env"] if split == "test_env" else domainbed.train
        rates = per_env_rates(ex)
        assert sorted(rates) == sorted(envs)
        for e, flip in envs.items():
            noise, colour_flip = rates[e]
            assert noise == pytest.approx(0.25, abs=0.04) and colour_flip == pytest.approx(flip, abs=0.04), (split, e)
    ex = domainbed.train
    idx = torch.arange(len(ex))
    assert torch.all(ex.x[idx, 1 - ex.meta["colour"]] == 0)  # the other channel zeroed
    assert torch.equal(ex.meta["group"], 2 * ex.y + ex.meta["colour"])


def test_domainbed_test_domain_is_an_option(mnist_root):
    shift = ColoredMNISTDomainBed({"test_envs": [0]})
    splits = shift.build(load_mnist(0, root=mnist_root), seed=0)
    assert shift.training_envs() == 2 and sorted(per_env_rates(splits.train)) == [1, 2]
    ((env, (_, flip)),) = per_env_rates(splits.ood["test_env"]).items()
    assert env == 0 and flip == pytest.approx(0.1, abs=0.04)
    two = ColoredMNISTDomainBed({"test_envs": [0, 2]}).build(load_mnist(0, root=mnist_root), seed=0)
    assert set(two.ood) == {"test_env0", "test_env2"}
    for bad in ({"test_envs": [3]}, {"test_envs": [0, 1, 2]}, {"test_envs": [1, 1]}):
        with pytest.raises(ValueError):
            ColoredMNISTDomainBed(bad)


def test_arjovsky_test_environment_is_separate_images_and_14x14_from_mnist(mnist_root):
    splits = ColoredMNIST({"test_env_images": "separate", "held_out": "whole"}).build(
        load_mnist(0, root=mnist_root), seed=0
    )
    assert splits.info.input_shape == (2, 14, 14)  # downsample left unset: 2 for 28×28 MNIST
    test_id, test_env = splits.test_id, splits.ood["test_env"]
    assert not keys(test_id) & keys(test_env)  # no image of test_id is recoloured into test_env
    assert len(test_id) + len(test_env) == N_TEST and abs(len(test_id) - len(test_env)) <= 1
    assert splits.split_info["test_env"]["test_env_images"] == "separate"
    ((env, (noise, flip)),) = per_env_rates(test_env).items()
    assert env == 2 and noise == pytest.approx(0.25, abs=0.07) and flip == pytest.approx(0.9, abs=0.05)
    assert sorted(per_env_rates(splits.train)) == [0, 1]


def test_arjovsky_default_still_recolours_test_id_and_keeps_small_digits_whole():
    loaded = fake_digits(300, size=8)
    old = ColoredMNIST().apply(loaded, 1)
    assert old.info.input_shape == (2, 8, 8)  # 8×8 digits are not subsampled
    assert torch.equal(old.ood["test_env"].x.sum(1), old.test_id.x.sum(1))
    assert "test_env_images" not in old.split_info["test_env"]
    new = ColoredMNIST({"test_env_images": "separate"}).apply(loaded, 1)
    assert torch.equal(new.train.x, old.train.x) and torch.equal(new.train.y, old.train.y)  # only the test part differs


def test_mnist_absent_falls_back_to_procedural_digits_and_says_so(tmp_path):
    loaded = load_mnist(0, root=str(tmp_path), fallback="digits_large")
    assert loaded.info.input_shape == (1, 28, 28) and loaded.info.details["source"] == "digits_large"
    assert "MNIST not found" in loaded.info.details["fallback"]
    for shift in (ColoredMNIST(), ColoredMNISTDomainBed()):
        splits = shift.build(loaded, seed=0)
        assert "MNIST not found" in splits.split_info["test_env"]["data_fallback"]
        assert splits.split_info["test_env"]["shift"].endswith(
            "(procedural digits: MNIST absent)"
        )  # the store keeps it
    present = ColoredMNIST().build(fake_digits(50, size=28), seed=0)
    assert "data_fallback" not in present.split_info["test_env"]
    assert present.split_info["test_env"]["shift"] == "colored_mnist"
