"""Benchmarks with training environments: ColoredMNIST as published, rotated digits, the MNIST loader."""

from __future__ import annotations

import gzip
import struct

import pytest
import torch

from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.errors import DatasetMissingError
from regbench.data.mnist import load_mnist
from regbench.shifts.colored_mnist import ColoredMNIST
from regbench.shifts.rotated import Rotated


def fake_digits(n_per_part: int, size: int = 4, seed: int = 0) -> Loaded:
    """A large pool of random 1-channel 'digits' (the construction only reads y and the grey level)."""
    g = torch.Generator().manual_seed(seed)
    parts = {
        name: Examples(
            torch.rand(n_per_part, 1, size, size, generator=g), torch.randint(0, 10, (n_per_part,), generator=g)
        )
        for name in ("train", "val", "test")
    }
    return Loaded(DatasetInfo("fake", 10, (1, size, size)), parts)


def per_env_rates(ex: Examples) -> dict[int, tuple[float, float]]:
    """env → (P(label ≠ digit<5), P(colour ≠ label)) measured on the generated examples."""
    out = {}
    for e in torch.unique(ex.meta["env"]).tolist():
        sel = ex.meta["env"] == e
        y, digit, colour = ex.y[sel], ex.meta["digit"][sel], ex.meta["colour"][sel]
        out[e] = (float((y != (digit < 5).long()).float().mean()), float((colour != y).float().mean()))
    return out


@pytest.fixture(scope="module")
def colored():
    return ColoredMNIST().apply(fake_digits(40_000), seed=3)


def assert_paper_rates(splits, tol: float) -> None:
    """Label noise 0.25 in every split; colour flipped 0.1 / 0.2 in the training envs, 0.9 at test (± tol)."""
    for name in ("train", "val", "test_id"):
        rates = per_env_rates(getattr(splits, name))
        assert sorted(rates) == [0, 1]
        for env, flip in ((0, 0.1), (1, 0.2)):
            noise, colour_flip = rates[env]
            assert noise == pytest.approx(0.25, abs=tol), (name, env)
            assert colour_flip == pytest.approx(flip, abs=tol), (name, env)
    ((env, (noise, colour_flip)),) = per_env_rates(splits.ood["test_env"]).items()
    assert env == 2 and noise == pytest.approx(0.25, abs=tol) and colour_flip == pytest.approx(0.9, abs=tol)


def test_colored_mnist_label_noise_and_colour_agreement_per_environment(colored):
    # 20k examples per training env: a rate's standard error is below 0.003, so 0.01 is > 3 σ
    assert_paper_rates(colored, 0.01)


def test_colored_mnist_images_groups_and_info(colored):
    ex = colored.train
    assert ex.x.shape[1:] == (2, 4, 4) and colored.info.num_classes == 2 and colored.info.input_shape == (2, 4, 4)
    idx = torch.arange(len(ex))
    # the digit sits in channel `colour` and the other channel is exactly zero
    assert torch.all(ex.x[idx, 1 - ex.meta["colour"]] == 0)
    assert torch.all(ex.x[idx, ex.meta["colour"]].sum(dim=(1, 2)) > 0)
    assert torch.equal(ex.meta["group"], 2 * ex.y + ex.meta["colour"])
    assert sorted(torch.unique(ex.meta["group"]).tolist()) == [0, 1, 2, 3]
    # the two training envs are the same size up to one example
    sizes = torch.bincount(ex.meta["env"]).tolist()
    assert abs(sizes[0] - sizes[1]) <= 1
    # the OOD test env re-colours test_id's images and keeps their noisy labels
    assert torch.equal(colored.ood["test_env"].y, colored.test_id.y)
    assert torch.equal(colored.ood["test_env"].x.sum(1), colored.test_id.x.sum(1))
    assert ColoredMNIST().training_envs() == 2


def test_colored_mnist_is_seeded_and_downsamples():
    a, b = ColoredMNIST().apply(fake_digits(200, size=8), 1), ColoredMNIST().apply(fake_digits(200, size=8), 1)
    c = ColoredMNIST().apply(fake_digits(200, size=8), 2)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.train.y, b.train.y)
    assert not torch.equal(a.train.y, c.train.y)
    half = ColoredMNIST({"downsample": 2}).apply(fake_digits(200, size=8), 1)
    assert half.train.x.shape[1:] == (2, 4, 4) and half.info.input_shape == (2, 4, 4)


def test_colored_mnist_refuses_colour_images_and_bad_params():
    loaded = fake_digits(10)
    rgb = Loaded(
        DatasetInfo("rgb", 10, (3, 4, 4)), {k: v.replace(x=v.x.expand(-1, 3, -1, -1)) for k, v in loaded.parts.items()}
    )
    with pytest.raises(ValueError, match="1-channel"):
        ColoredMNIST().apply(rgb, 0)
    with pytest.raises(ValueError):
        ColoredMNIST({"label_noise": 0.7})


def test_rotated_digits_leave_one_domain_out():
    loaded = fake_digits(300, size=8)
    shift = Rotated({"test_domain": 30})
    splits = shift.apply(loaded, 0)
    assert shift.training_envs() == 5
    train = splits.train
    assert torch.bincount(train.meta["env"]).tolist() == [60] * 5
    assert sorted(torch.unique(train.meta["angle"]).tolist()) == [0, 15, 45, 60, 75]
    # the 0° domain is the untouched image; every other domain is rotated
    zero = train.meta["angle"] == 0
    assert torch.equal(train.x[zero], loaded.parts["train"].x[zero])
    assert not torch.allclose(train.x[~zero], loaded.parts["train"].x[~zero])
    (name,) = splits.ood
    assert name == "rotation_30" and len(splits.ood[name]) == 300
    assert torch.all(splits.ood[name].meta["angle"] == 30)
    with pytest.raises(ValueError, match="not one of domains"):
        Rotated({"test_domain": 20})


def write_idx(path, data: torch.Tensor, gz: bool) -> None:
    """An IDX file as torchvision's MNIST uses: magic 0x0000 08 ndim, big-endian dims, uint8 data."""
    header = struct.pack(">I", 0x0800 + data.dim()) + b"".join(struct.pack(">I", d) for d in data.shape)
    payload = header + data.to(torch.uint8).numpy().tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_torchvision_layout(tmp_path, gz):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    train_x, test_x = (
        torch.randint(0, 256, (120, 28, 28), generator=g),
        torch.randint(0, 256, (30, 28, 28), generator=g),
    )
    train_y, test_y = torch.arange(120) % 10, torch.arange(30) % 10
    for name, t in {
        "train-images-idx3-ubyte": train_x,
        "train-labels-idx1-ubyte": train_y,
        "t10k-images-idx3-ubyte": test_x,
        "t10k-labels-idx1-ubyte": test_y,
    }.items():
        write_idx(raw / name, t, gz)
    loaded = load_mnist(0, root=str(tmp_path))
    assert loaded.info.input_shape == (1, 28, 28) and loaded.info.num_classes == 10
    assert len(loaded.parts["train"]) == 100 and len(loaded.parts["val"]) == 20
    assert torch.equal(loaded.parts["test"].x, test_x.unsqueeze(1).float() / 255)
    assert torch.equal(loaded.parts["test"].y, test_y)
    # every train image is one of the file's, with its own label
    seen = {
        bytes((x * 255).round().to(torch.uint8).numpy()): int(y) for x, y in zip(train_x.unsqueeze(1) / 255, train_y)
    }
    part = loaded.parts["train"]
    assert all(seen[bytes((x * 255).round().to(torch.uint8).numpy())] == int(y) for x, y in zip(part.x, part.y))


def test_mnist_missing_is_one_line_naming_files_where_and_how(tmp_path):
    with pytest.raises(DatasetMissingError) as err:
        load_mnist(0, root=str(tmp_path))
    msg = str(err.value)
    assert "\n" not in msg and "t10k-images-idx3-ubyte" in msg and str(tmp_path / "MNIST" / "raw") in msg
    assert "download=True" in msg


def test_colored_mnist_with_three_channels_adds_only_an_empty_channel():
    """``channels: 3`` (for colour augmentations, which need RGB) carries the same image and labels."""
    two = ColoredMNIST().apply(fake_digits(200, size=8), 1)
    three = ColoredMNIST({"channels": 3}).apply(fake_digits(200, size=8), 1)
    assert three.info.input_shape == (3, 8, 8) and three.train.x.shape[1:] == (3, 8, 8)
    assert torch.equal(three.train.x[:, :2], two.train.x) and not three.train.x[:, 2].any()
    assert torch.equal(three.train.y, two.train.y) and torch.equal(three.ood["test_env"].y, two.ood["test_env"].y)
