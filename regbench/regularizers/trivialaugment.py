"""TrivialAugment Wide (Müller & Hutter 2021, arXiv:2103.10158): one random op at a random strength per image.

Per image: an op drawn uniformly from torchvision v2 ``TrivialAugmentWide``'s 14 (Identity,
ShearX/Y, TranslateX/Y, Rotate, Brightness, Color, Contrast, Sharpness, Posterize, Solarize,
AutoContrast, Equalize), a magnitude bin drawn uniformly from its 31 and, for signed ops, a
sign — the "wide" ranges of the paper's Table 1 (§3), as torchvision encodes them. Every
draw is per sample, from the run's generator (:func:`~regbench.regularizers.augment.apply_actions`):
on the CPU the ops run through torchvision's own op code, once per distinct (op, magnitude)
drawn; on a GPU, where the groups' sizes would be a host read per step, each op family runs
once on the whole batch with per-sample magnitudes (~400 distinct actions, 10 calls).
"""

from __future__ import annotations

import functools
from typing import Annotated

import torch
from pydantic import Field

from regbench.regularizers import register_regularizer
from regbench.regularizers.augment import (
    _ActionTable,
    _on_device,
    _op_magnitude,
    _randint,
    _uniform,
    apply_actions,
    check_images,
)
from regbench.regularizers.base import Regularizer, SetupContext

TRIVIALAUGMENT_BINS = 31  # torchvision TrivialAugmentWide's num_magnitude_bins default


def translation_scale(name: str, h: int, w: int, reference_size: int | None) -> float:
    """The factor on op ``name``'s magnitude that makes its absolute pixel translation relative.

    TranslateX moves by a share of the width, TranslateY of the height: the op table's pixels
    on a ``reference_size`` image become the same share of an h×w image. 1 for every other
    op, and for all of them without ``reference_size`` (torchvision's absolute pixels).
    """
    if reference_size is None:
        return 1.0
    return {"TranslateX": w / reference_size, "TranslateY": h / reference_size}.get(name, 1.0)


@functools.cache
def _trivialaugment_table(
    bins: int, h: int, w: int, reference_size: int | None = None
) -> tuple[_ActionTable, torch.Tensor]:
    """Actions of TrivialAugment Wide on h×w images and their ids (14 ops, bins, 2 signs);
    translations scaled by :func:`translation_scale`."""
    from torchvision.transforms import v2

    space, table = v2.TrivialAugmentWide._AUGMENTATION_SPACE, _ActionTable()
    ids = []
    for n in space:
        scale = translation_scale(n, h, w, reference_size)
        magnitudes = [_op_magnitude(space, n, bins, b, h, w) for b in range(bins)]
        ids.append([table.add(n, m * scale, signed) for m, signed in magnitudes])
    return table, torch.tensor(ids)


@register_regularizer("trivialaugment")
class TrivialAugment(Regularizer):
    """TrivialAugment Wide, with an op, a magnitude and a sign per sample (Müller & Hutter, arXiv:2103.10158).

    ``num_magnitude_bins`` 31 is torchvision's default (bins 0 … 30 spread each op's wide
    range of the paper's Table 1); the method has no other parameter ("tuning-free", §1).

    The wide range's translations are absolute, up to 32 px, whatever the image's size. With
    ``translate_reference_size`` they are relative instead, as timm's RandAugment's
    (``translate_pct``): 32 px of a ``translate_reference_size`` image, the same share of
    this one's width and height (32 px at 176, the crop torchvision's recipe trains at, is
    2.9 px at 16). None (the default) keeps torchvision's absolute pixels.
    """

    kind = "augmentation"
    modalities = ("image",)  # reads x as (B, C, H, W) pixels: refused on audio when a suite loads

    def __init__(
        self,
        num_magnitude_bins: Annotated[int, Field(ge=2, le=256)] = TRIVIALAUGMENT_BINS,
        translate_reference_size: Annotated[int, Field(gt=0)] | None = None,
    ):
        self.num_magnitude_bins = num_magnitude_bins
        self.translate_reference_size = translate_reference_size

    def setup(self, ctx: SetupContext) -> None:
        if not 2 <= self.num_magnitude_bins <= 256:
            raise ValueError(f"trivialaugment: num_magnitude_bins must be in [2, 256], got {self.num_magnitude_bins}")

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        check_images(x, "trivialaugment")
        b, _, h, w = x.shape
        table, ids = _trivialaugment_table(self.num_magnitude_bins, h, w, self.translate_reference_size)
        ids = _on_device(ids, g.device)
        op = _randint(g, ids.shape[0], b, g.device)
        level = _randint(g, ids.shape[1], b, g.device)
        neg = (_uniform(g, b, 0.0, 1.0, g.device) < 0.5).long()
        return apply_actions(x, ids[op, level, neg], table.actions), y
