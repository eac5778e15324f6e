"""ColoredMNIST's parameters (``shifts.colored_mnist``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from regbench.shifts.base import PooledShiftParams


class ColoredMNISTParams(PooledShiftParams):
    """Knobs of ColoredMNIST; the defaults are the paper's."""

    train_flips: tuple[float, ...] = Field((0.1, 0.2), min_length=1)  # P(colour ≠ label) per training env
    test_flip: float = Field(0.9, ge=0, le=1)  # P(colour ≠ label) in the test environment
    label_noise: float = Field(0.25, ge=0, lt=0.5)  # P(label ≠ digit < 5)
    # keep every n-th pixel (2 takes MNIST's 28×28 to 14×14); None: 2 for 28×28 digits, else 1
    downsample: int | None = Field(None, ge=1)
    # the test environment's images: test_id's recoloured, or a disjoint half of the test part
    test_env_images: Literal["test_id", "separate"] = "test_id"
    # 2: the paper's red/green image; 3 adds an all-zero third channel, the same information,
    # so that colour augmentations (which need 1 or 3 channels) apply in a suite of every regularizer
    channels: int = Field(2, ge=2, le=3)
    # the paper's grayscale oracle: the grey digit in both channels, so colour carries nothing
    # (labels, colours and environments are drawn as without it: the same examples, uncoloured)
    grayscale: bool = False

    def training_envs(self) -> int:
        return len(self.train_flips)
