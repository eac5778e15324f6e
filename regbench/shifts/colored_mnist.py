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
   takes 28×28 MNIST to 14×14, ``main.py`` l.53 ``[:, ::2, ::2]``; left unset, ``downsample`` is 2
   for 28×28 digits (MNIST) and 1 otherwise, so 8×8 digits are kept as they are).
   ``grayscale: true`` is the paper's grayscale oracle: the grey digit in both channels.

train, val and test_id are split into the training environments (``meta["env"]`` = 0, 1, …
in the order of ``train_flips``, examples dealt round-robin after a seeded shuffle, as
DomainBed deals ``images[i::3]``); the OOD split ``test_env`` is coloured with ``test_flip``
(env id ``len(train_flips)``) from the test part (the spurious family's shard of the held-out
images, shifts/held_out.py). ``test_env_images`` says which images: ``"test_id"`` (the
default) recolours test_id's images, with test_id's noisy labels; ``"separate"`` deals the
test part into two disjoint halves after a seeded shuffle, one for test_id and one for
test_env (its own label noise), as the paper's test environment is images no training or
ID split holds (facebookresearch/InvariantRiskMinimization ``code/colored_mnist/main.py``
l.36-38 and l.67-71: MNIST train[50000:]). Groups are label × colour
(``group = 2 · label + colour``, 4 groups).

On ``dataset: mnist`` with ``dataset_args: {fallback: digits_large}`` and no MNIST on disk,
the images are procedural digits and ``split_info`` says so (``data_fallback``, and the
shift name the store keeps: "colored_mnist (procedural digits: MNIST absent)").

DomainBed's construction (70k images pooled into 3 environments at 2×28×28) is the separate
shift ``colored_mnist_domainbed`` (shifts/colored_mnist_domainbed.py).

For more images than scikit-learn's 1,797, run it on ``digits_large`` (regbench/data/digits_large.py):
warped draws of every digit, at the paper's 14×14 (suites/colored_mnist_large.yaml).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from regbench.data.base import Examples, Loaded, Splits
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.colored_mnist import ColoredMNISTParams
from regbench.shifts.held_out import stratified_halves

TEST_SPLIT = "test_env"


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


def stride_for(height: int, downsample: int | None) -> int:
    """The pixel stride: ``downsample`` when set, else 2 for 28×28 MNIST (the paper's 14×14) and 1 otherwise."""
    if downsample is not None:
        return downsample
    return 2 if height == 28 else 1


def fallback_note(shift: str, loaded: Loaded) -> dict[str, Any]:
    """The ``split_info`` entries that say the loader substituted procedural digits for MNIST ({} if not).

    ``data_fallback`` says why, for whoever reads the splits (``regbench.api``); the store keeps
    only a split's family, shift and severity, so the shift's name carries the fact into the
    metrics table and every table built from it.
    """
    why = loaded.info.details.get("fallback")
    return {"data_fallback": why, "shift": f"{shift} (procedural digits: MNIST absent)"} if why else {}


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

    def colour_part(self, ex: Examples, label: torch.Tensor, flips: torch.Tensor, env: torch.Tensor, g) -> Examples:
        """One part coloured: label (N,), per-example colour-flip probability flips (N,), env (N,)."""
        colour = colour_by_label(label, flips, g)
        d = stride_for(ex.x.shape[-2], self.params.downsample)  # type: ignore[attr-defined]
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
        separate = p.test_env_images == "separate"
        if separate:  # disjoint halves: test_id's images are never the test environment's
            test, env_part = stratified_halves(test, seed)  # each class halved, image ids kept
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
            if name == "test":
                if separate:  # its own images, so its own label noise
                    ex = env_part
                    g = torch_generator(seed, "shift", "colored_mnist", TEST_SPLIT, "label")
                    label = binary_noisy_labels(ex.y, p.label_noise, g)
                test_env = torch.full((len(ex),), len(p.train_flips), dtype=torch.int64)
                flips = torch.full((len(ex),), p.test_flip)
                g = torch_generator(seed, "shift", "colored_mnist", TEST_SPLIT, "colour")
                out[TEST_SPLIT] = self.colour_part(ex, label, flips, test_env, g)
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
            "shift": "colored_mnist",
            "num_groups": 4,
            "label_noise": p.label_noise,
            **held_out,
            # only where they apply, so the default benchmark's split_info is as before
            **({"test_env_images": "separate"} if separate else {}),
            **fallback_note("colored_mnist", loaded),
        }
        split_info = {
            "test_id": {**common, "agreement": 1 - float(train_flips.mean())},
            TEST_SPLIT: {**common, "agreement": 1 - p.test_flip},
        }
        return Splits(out["train"], out["val"], out["test_id"], {TEST_SPLIT: out[TEST_SPLIT]}, info, split_info)
