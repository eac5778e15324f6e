"""ColoredMNIST as DomainBed builds it: every image pooled, dealt into 3 environments, 2×28×28.

Gulrajani & Lopez-Paz 2020 (https://arxiv.org/abs/2007.01434); facebookresearch/DomainBed
b93c22a ``domainbed/datasets.py``:

1. MNIST's train and test images are pooled (l.98-105: 70k with real MNIST; here every part
   the loader returns), shuffled (l.107-110), and dealt out: environment i gets images
   ``[i::E]`` (l.114-117);
2. in environment i, the label is ``digit < 5`` flipped w.p. ``label_noise`` (0.25) and the
   colour is the label flipped w.p. ``environments[i]``: (0.1, 0.2, 0.9) are DomainBed's
   '+90%', '+80%', '-90%' (l.124-145);
3. the image gets 2 channels, the digit in channel ``colour`` and the other zeroed, at
   28×28: DomainBed's 2× subsampling line is commented out (l.134-135), so ``downsample``
   is 1 by default (2 gives the paper's 14×14).

Each environment is split into ``out`` (``holdout_fraction``, 0.2: DomainBed's
``scripts/train.py`` ``--holdout_fraction`` and ``misc.split_dataset``) and ``in`` (the
rest), after a seeded shuffle. The training environments' ``in`` parts are ``train``; their
``out`` parts, DomainBed's training-domain validation data, are dealt in halves into
``val`` and ``test_id`` (regbench reports an in-distribution test split; DomainBed has
none). Each test environment (``test_envs``, DomainBed's ``--test_envs``; default the
'-90%' environment, 2) gives an OOD split of its ``in`` part, the images whose accuracy
DomainBed reports under training-domain validation: ``test_env`` for one test environment,
``test_env<i>`` for several. ``meta["env"]`` is the environment's index in
``environments``; groups are label × colour (``group = 2 · label + colour``).

Not reproduced here: DomainBed draws each step's minibatch as ``batch_size`` (64) examples
per training environment *with replacement* (``lib/fast_data_loader.py``
``InfiniteDataLoader``, ``RandomSampler(replacement=True)``), for every algorithm including
ERM. regbench's trainer chooses batches (regbench/train/batches.py): environment-balanced
and without replacement within an epoch for regularizers that need environments, a plain
shuffle of the pooled training set otherwise. A shift cannot change that.

On ``dataset: mnist`` with ``dataset_args: {fallback: digits_large}`` and no MNIST on disk,
the images are procedural digits at 28×28 and ``split_info`` says so (``data_fallback``, and
the shift name the store keeps: "colored_mnist_domainbed (procedural digits: MNIST absent)").
"""

from __future__ import annotations

import dataclasses

import torch

from regbench.data.base import Examples, Loaded, Splits
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift
from regbench.shifts.params.colored_mnist_domainbed import ColoredMNISTDomainBedParams
from regbench.shifts.colored_mnist import binary_noisy_labels, colour_by_label, fallback_note, two_channel

NAME = "colored_mnist_domainbed"
DOMAINBED_NAMES = {0.1: "+90%", 0.2: "+80%", 0.9: "-90%"}


def pooled(loaded: Loaded) -> Examples:
    """Every part of ``loaded`` (train, val, test: MNIST's 60k + 10k), in that order: (N, 1, H, W)."""
    parts = [loaded.parts[k] for k in ("train", "val", "test") if k in loaded.parts]
    parts += [v for k, v in loaded.parts.items() if k not in ("train", "val", "test")]
    return Examples(torch.cat([p.x for p in parts]), torch.cat([p.y for p in parts]))


@register_shift(NAME)
class ColoredMNISTDomainBed(Shift):
    """Pooled images in 3 environments (+90 / +80 / −90 % colour agreement), 2×28×28; test env '-90%'."""

    family = "spurious"
    Params = ColoredMNISTDomainBedParams

    def environment(self, ex: Examples, e: int, seed: int) -> tuple[Examples, Examples]:
        """Environment ``e``'s images coloured, split into (in, out) parts."""
        p: ColoredMNISTDomainBedParams = self.params  # type: ignore[assignment]
        label = binary_noisy_labels(ex.y, p.label_noise, torch_generator(seed, "shift", NAME, e, "label"))
        flips = torch.full((len(ex),), p.environments[e])
        colour = colour_by_label(label, flips, torch_generator(seed, "shift", NAME, e, "colour"))
        d = p.downsample
        x = two_channel(ex.x[:, :1, ::d, ::d], colour)
        env = torch.full((len(ex),), e, dtype=torch.int64)
        meta = {"digit": ex.y, "colour": colour, "env": env, "group": 2 * label + colour}
        coloured = Examples(x, label, meta)
        order = torch.randperm(len(ex), generator=torch_generator(seed, "shift", NAME, e, "holdout"))
        n_out = int(len(ex) * p.holdout_fraction)  # DomainBed: int(len(env) * holdout_fraction)
        return coloured.subset(order[n_out:]), coloured.subset(order[:n_out])

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """train/val/test_id from the training environments; one OOD split per test environment."""
        p: ColoredMNISTDomainBedParams = self.params  # type: ignore[assignment]
        if loaded.info.input_shape[0] != 1:
            raise ValueError(f"{NAME} colours 1-channel digits; '{loaded.info.name}' has {loaded.info.input_shape}")
        pool = pooled(loaded)
        shuffle = torch.randperm(len(pool), generator=torch_generator(seed, "shift", NAME, "shuffle"))
        n_env = len(p.environments)
        train, val, test_id, ood = [], [], [], {}
        for e in range(n_env):
            ins, out = self.environment(pool.subset(shuffle[e::n_env]), e, seed)
            if e in p.test_envs:
                ood[e] = ins
            else:
                train.append(ins)
                val.append(out.subset(torch.arange(0, len(out), 2)))
                test_id.append(out.subset(torch.arange(1, len(out), 2)))
        names = {e: "test_env" if len(p.test_envs) == 1 else f"test_env{e}" for e in p.test_envs}
        h, w = pool.x[:, :, :: p.downsample, :: p.downsample].shape[-2:]
        info = dataclasses.replace(
            loaded.info,
            num_classes=2,
            input_shape=(2, h, w),
            factors=tuple(dict.fromkeys([*loaded.info.factors, "digit", "colour", "env", "group"])),
            details={**loaded.info.details, NAME: p.model_dump(mode="json")},
        )
        common = {"family": self.family, "shift": NAME, "num_groups": 4, "label_noise": p.label_noise}
        common.update({"pooled_images": len(pool), **fallback_note(NAME, loaded)})
        train_envs = [e for e in range(n_env) if e not in p.test_envs]
        split_info = {
            "test_id": {**common, "agreement": 1 - sum(p.environments[e] for e in train_envs) / len(train_envs)}
        }
        for e, name in names.items():
            label = DOMAINBED_NAMES.get(p.environments[e], f"flip {p.environments[e]}")
            split_info[name] = {**common, "environment": label, "agreement": 1 - p.environments[e]}
        return Splits(
            concat(train), concat(val), concat(test_id), {names[e]: ood[e] for e in p.test_envs}, info, split_info
        )


def concat(parts: list[Examples]) -> Examples:
    """The examples of ``parts`` one after another (their meta keys are the same)."""
    return Examples(
        torch.cat([p.x for p in parts]),
        torch.cat([p.y for p in parts]),
        {k: torch.cat([p.meta[k] for p in parts]) for k in parts[0].meta},
    )
