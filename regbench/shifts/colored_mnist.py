"""ColoredMNIST as published: two training environments, a binary noisy label, a colour that flips.

Arjovsky et al. 2019, "Invariant Risk Minimization" (https://arxiv.org/abs/1907.02893,
Section 5.2), and DomainBed's ``ColoredMNIST`` (Gulrajani & Lopez-Paz 2020,
https://arxiv.org/abs/2007.01434). For every example of a part:

1. the binary label is ``digit < 5``, then flipped with probability ``label_noise`` (0.25),
   so the digit's shape predicts the label at best 75 % of the time;
2. the colour is the label, flipped with the environment's probability: ``train_flips``
   (0.1, 0.2) in the training environments, ``test_flip`` (0.9) in the test environment,
   so colour predicts the label 85 % of the time in training and 10 % at test;
3. the image gets 2 channels, the grey digit in channel ``colour`` and channel
   ``1 − colour`` zeroed (``channels: 3`` appends an all-zero third channel, for colour
   augmentations that need RGB) (optionally subsampled every ``downsample`` pixels first: the paper
   takes 28×28 MNIST to 14×14 with ``downsample: 2``; 8×8 digits are kept as they are).
   ``grayscale: true`` is the paper's grayscale oracle: the grey digit in both channels.

train, val and test_id are split into the training environments (``meta["env"]`` = 0, 1, …
in the order of ``train_flips``, examples dealt round-robin after a seeded shuffle, as
DomainBed deals ``images[i::3]``); the OOD split ``test_env`` is the test part (the spurious
family's shard of the held-out images, shifts/held_out.py) with
``test_flip`` (env id ``len(train_flips)``), its noisy labels the same as test_id's
(``separate_test_env: true`` instead cuts the test part into two disjoint halves, test_id and
the test environment, so the two splits share no image). Groups
are label × colour (``group = 2 · label + colour``, 4 groups).

For more images than scikit-learn's 1,797, run it on ``digits_large`` (regbench/data/digits_large.py):
warped draws of every digit, at the paper's 14×14 (suites/colored_mnist_large.yaml).
"""

from __future__ import annotations

import dataclasses

import torch
from pydantic import Field

from regbench.data.base import Examples, Loaded, Splits
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import PooledShiftParams, Shift, base_splits
from regbench.shifts.held_out import stratified_halves

TEST_SPLIT = "test_env"


class ColoredMNISTParams(PooledShiftParams):
    """Knobs of ColoredMNIST; the defaults are the paper's."""

    train_flips: tuple[float, ...] = Field((0.1, 0.2), min_length=1)  # P(colour ≠ label) per training env
    test_flip: float = Field(0.9, ge=0, le=1)  # P(colour ≠ label) in the test environment
    label_noise: float = Field(0.25, ge=0, lt=0.5)  # P(label ≠ digit < 5)
    downsample: int = Field(1, ge=1)  # keep every n-th pixel (2 takes MNIST's 28×28 to 14×14)
    # 2: the paper's red/green image; 3 adds an all-zero third channel, the same information,
    # so that colour augmentations (which need 1 or 3 channels) apply in a suite of every regularizer
    channels: int = Field(2, ge=2, le=3)
    # the paper's grayscale oracle: the grey digit in both channels, so colour carries nothing
    # (labels, colours and environments are drawn as without it: the same examples, uncoloured)
    grayscale: bool = False
    # True: test_id and the test environment are disjoint halves of the held-out images (each
    # with its own noisy labels), so no test image is scored twice; False: the test environment
    # recolours test_id's images, as the paper's test set is the one MNIST test set recoloured
    separate_test_env: bool = False


def binary_noisy_labels(digit: torch.Tensor, noise: float, g: torch.Generator) -> torch.Tensor:
    """(N,) int64: 1 where digit < 5, flipped with probability ``noise``."""
    flip = torch.rand(len(digit), generator=g) < noise
    return (digit < 5).long() ^ flip.long()


def colour_by_label(label: torch.Tensor, flip: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """(N,) int64 colour: the label, flipped with per-example probability ``flip`` (N,)."""
    return label ^ (torch.rand(len(label), generator=g) < flip).long()


def two_channel(grey: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) grey images → (N, 2, H, W) with the digit in channel ``colour``, the other zeroed."""
    keep = torch.nn.functional.one_hot(colour, 2).to(grey.dtype).view(-1, 2, 1, 1)
    return grey * keep


def round_robin_envs(n: int, num_envs: int, g: torch.Generator) -> torch.Tensor:
    """(N,) int64 environment ids: a seeded shuffle dealt out in turn, so sizes differ by ≤ 1."""
    env = torch.empty(n, dtype=torch.int64)
    env[torch.randperm(n, generator=g)] = torch.arange(n) % num_envs
    return env


@register_shift("colored_mnist")
class ColoredMNIST(Shift):
    """Binary noisy label; colour agrees 90 % / 80 % in the two training envs, 10 % at test."""

    family = "spurious"
    Params = ColoredMNISTParams

    def training_envs(self) -> int:
        return len(self.params.train_flips)  # type: ignore[attr-defined]

    def colour_part(self, ex: Examples, label: torch.Tensor, flips: torch.Tensor, env: torch.Tensor, g) -> Examples:
        """One part coloured: label (N,), per-example colour-flip probability flips (N,), env (N,)."""
        colour = colour_by_label(label, flips, g)
        d = self.params.downsample  # type: ignore[attr-defined]
        grey = ex.x[:, :1, ::d, ::d]
        meta = {**ex.meta, "digit": ex.y, "colour": colour, "env": env, "group": 2 * label + colour}
        gray = self.params.grayscale  # type: ignore[attr-defined]
        x = grey.expand(-1, 2, -1, -1).clone() if gray else two_channel(grey, colour)
        if self.params.channels == 3:  # type: ignore[attr-defined]
            x = torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)
        return Examples(x, label, meta)

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """train/val/test_id over the training envs; ``test_env`` is the test part at ``test_flip``."""
        p: ColoredMNISTParams = self.params  # type: ignore[assignment]
        if loaded.info.input_shape[0] != 1:
            raise ValueError(
                f"colored_mnist colours 1-channel digits; '{loaded.info.name}' has {loaded.info.input_shape}"
            )
        train, val, pool = base_splits(loaded)
        test, held_out = self.test_part(pool, seed)
        separate = {}
        if p.separate_test_env:
            test, separate[TEST_SPLIT] = stratified_halves(test, seed)
        parts = {"train": train, "val": val, "test": test}
        train_flips = torch.tensor(p.train_flips)
        out: dict[str, Examples] = {}
        for name, ex in parts.items():
            label = binary_noisy_labels(
                ex.y, p.label_noise, torch_generator(seed, "shift", "colored_mnist", name, "label")
            )
            env = round_robin_envs(
                len(ex), len(p.train_flips), torch_generator(seed, "shift", "colored_mnist", name, "env")
            )
            g = torch_generator(seed, "shift", "colored_mnist", name, "colour")
            out["test_id" if name == "test" else name] = self.colour_part(ex, label, train_flips[env], env, g)
            if name == "test" and not separate:
                test_env = torch.full((len(ex),), len(p.train_flips), dtype=torch.int64)
                flips = torch.full((len(ex),), p.test_flip)
                g = torch_generator(seed, "shift", "colored_mnist", TEST_SPLIT, "colour")
                out[TEST_SPLIT] = self.colour_part(ex, label, flips, test_env, g)
        for name, ex in separate.items():  # the test environment on its own images
            label = binary_noisy_labels(
                ex.y, p.label_noise, torch_generator(seed, "shift", "colored_mnist", name, "label")
            )
            test_env = torch.full((len(ex),), len(p.train_flips), dtype=torch.int64)
            flips = torch.full((len(ex),), p.test_flip)
            g = torch_generator(seed, "shift", "colored_mnist", name, "colour")
            out[name] = self.colour_part(ex, label, flips, test_env, g)
        h, w = out["train"].x.shape[-2:]
        info = dataclasses.replace(
            loaded.info,
            num_classes=2,
            input_shape=(p.channels, h, w),
            factors=tuple(dict.fromkeys([*loaded.info.factors, "digit", "colour", "env", "group"])),
            details={**loaded.info.details, "colored_mnist": p.model_dump(mode="json")},
        )
        common = {
            "family": self.family,
            **({"separate_test_env": True} if p.separate_test_env else {}),
            "shift": "colored_mnist",
            "num_groups": 4,
            "label_noise": p.label_noise,
            **held_out,
        }
        split_info = {
            "test_id": {**common, "agreement": 1 - float(train_flips.mean())},
            TEST_SPLIT: {**common, "agreement": 1 - p.test_flip},
        }
        return Splits(out["train"], out["val"], out["test_id"], {TEST_SPLIT: out[TEST_SPLIT]}, info, split_info)
