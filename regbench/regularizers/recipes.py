"""Named stacks of standard regularizers (training recipes)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from regbench.params import NonNegative, Positive, Rate
from regbench.regularizers import register_regularizer
from regbench.regularizers.augment import RandAugment
from regbench.regularizers.label_smoothing import LabelSmoothing
from regbench.regularizers.mix import MixupCutmix
from regbench.regularizers.optim import WeightDecay
from regbench.regularizers.stack import Stack


@register_regularizer("modern_recipe")
class ModernRecipe(Stack):
    """Weight decay + RandAugment + mixup/cutmix + label smoothing, as in timm/torchvision recipes.

    The torchvision "How to train state-of-the-art models" recipe (2021) and timm's
    ResNet strikes back (arXiv:2110.00476) stack exactly these; the strengths here are the
    small-data defaults of each member.
    """

    kind = "recipe"

    def __init__(
        self,
        weight_decay: NonNegative = 0.05,
        magnitude: Annotated[int, Field(ge=0, le=30)] = 9,
        mix_alpha: Positive = 0.2,
        smoothing: Rate = 0.1,
    ):
        self.weight_decay = weight_decay
        self.magnitude = magnitude
        self.mix_alpha = mix_alpha
        self.smoothing = smoothing
        super().__init__(
            [
                WeightDecay(weight_decay),
                RandAugment(magnitude=magnitude),
                MixupCutmix(mixup_alpha=mix_alpha, cutmix_alpha=1.0),
                LabelSmoothing(smoothing),
            ]
        )

    def describe(self):
        return {k: getattr(self, k) for k in ("weight_decay", "magnitude", "mix_alpha", "smoothing")}
