"""Random erasing (Zhong et al. 2020, arXiv:1708.04896): blank a random rectangle of each image.

torchvision v2's ``RandomErasing`` draws its box from the global RNG and, given a batch,
erases the same box in every image. Here each sample draws its own box from the run's
generator, with torchvision's procedure made batched: up to 10 attempts per sample of an area
fraction s ~ U[scale] and a log aspect ratio ~ U[log ratio], giving a box of
h = round(√(s·H·W·r)) by w = round(√(s·H·W / r)); the first attempt that fits (h < H and w < W)
is placed uniformly at i ~ U{0 … H − h}, j ~ U{0 … W − w}; a sample none of whose attempts
fits, or whose coin (probability p) says no, is left unchanged. All attempts are drawn at
once, (B, 10), and the boxes are one ``torch.where`` over (B, 1, H, W) masks.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field

from regbench.params import Probability
from regbench.regularizers import register_regularizer
from regbench.regularizers.augment import _uniform, check_images
from regbench.regularizers.base import Regularizer, SetupContext

ATTEMPTS = 10  # torchvision RandomErasing.make_params tries 10 boxes before giving up
Fraction = Annotated[float, Field(gt=0.0, le=1.0)]
AspectRatio = Annotated[float, Field(gt=0.0)]


def draw_boxes(
    g: torch.Generator, b: int, h: int, w: int, scale: tuple[float, float], ratio: tuple[float, float], p: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample boxes (top, left, height, width), each (B,) int64 on g's device; height 0 = none."""
    dev = g.device
    area = h * w * (scale[0] + (scale[1] - scale[0]) * torch.rand(b, ATTEMPTS, generator=g, device=dev))
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(lo + (hi - lo) * torch.rand(b, ATTEMPTS, generator=g, device=dev))
    bh, bw = torch.sqrt(area * aspect).round().long(), torch.sqrt(area / aspect).round().long()
    fits = (bh < h) & (bw < w) & (bh > 0) & (bw > 0)
    first = fits.to(torch.int8).argmax(1, keepdim=True)  # the first attempt that fits (0 if none)
    bh, bw = bh.gather(1, first).squeeze(1), bw.gather(1, first).squeeze(1)
    erase = fits.any(1) & (torch.rand(b, generator=g, device=dev) < p)
    top = (torch.rand(b, generator=g, device=dev) * (h - bh + 1)).long().clamp(max=h - 1)
    left = (torch.rand(b, generator=g, device=dev) * (w - bw + 1)).long().clamp(max=w - 1)
    return top, left, torch.where(erase, bh, 0), torch.where(erase, bw, 0)


def box_mask(top, left, height, width, h: int, w: int) -> torch.Tensor:
    """(B, 1, H, W) bool: the boxes [top, top + height) × [left, left + width), each (B,)."""
    rows = torch.arange(h, device=top.device)[None, :]
    cols = torch.arange(w, device=top.device)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + height)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + width)[:, None])
    return (in_rows[:, :, None] & in_cols[:, None, :]).unsqueeze(1)


@register_regularizer("random_erasing")
class RandomErasing(Regularizer):
    """Random erasing with a box per sample (Zhong et al., arXiv:1708.04896), torchvision v2's procedure.

    Defaults are torchvision v2 ``RandomErasing``'s: p = 0.5 (also the paper's, §3.1),
    scale (0.02, 0.33) of the image area (the paper's s_l = 0.02, s_h = 0.4), aspect ratio
    (0.3, 3.3) (the paper's r_1 = 0.3, 1/r_1), erased to 0. ``value="random"`` fills each
    erased pixel with U[0, 1], the paper's RE-R (random values over the pixel range; §3.1).
    """

    kind = "augmentation"
    modalities = ("image",)  # erases (H, W) boxes: refused on audio and text when a suite loads

    def __init__(
        self,
        p: Probability = 0.5,
        scale_min: Fraction = 0.02,
        scale_max: Fraction = 0.33,
        ratio_min: AspectRatio = 0.3,
        ratio_max: AspectRatio = 3.3,
        value: Literal["zero", "random"] = "zero",
    ):
        self.p = p
        self.scale_min = scale_min
        self.scale_max = scale_max
        self.ratio_min = ratio_min
        self.ratio_max = ratio_max
        self.value = value

    def setup(self, ctx: SetupContext) -> None:
        if not 0 < self.scale_min <= self.scale_max <= 1:
            raise ValueError(
                f"random_erasing: need 0 < scale_min <= scale_max <= 1, got {self.scale_min}, {self.scale_max}"
            )
        if not 0 < self.ratio_min <= self.ratio_max:
            raise ValueError(f"random_erasing: need 0 < ratio_min <= ratio_max, got {self.ratio_min}, {self.ratio_max}")

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        check_images(x, "random_erasing")
        b, c, h, w = x.shape
        boxes = draw_boxes(g, b, h, w, (self.scale_min, self.scale_max), (self.ratio_min, self.ratio_max), self.p)
        mask = box_mask(*(t.to(x.device) for t in boxes), h, w)
        if self.value == "random":
            fill = _uniform(g, b * c * h * w, 0.0, 1.0, x.device).view_as(x).to(x.dtype)
        else:
            fill = torch.zeros((), dtype=x.dtype, device=x.device)
        return torch.where(mask, fill, x), y
