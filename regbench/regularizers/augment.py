"""Image augmentations with per-sample randomness at near-batched cost.

A torchvision v2 transform given a batched tensor draws ONE random op for the whole batch
(docs/architecture.md, Measured here: Augmentation), and calling it per image costs 30–100× more. Here every random choice
is drawn per sample from the run's generator ``g`` (never the global RNG), as torchvision's
``make_params`` / ``transform`` split suggests, and then applied in batch:

- crop_flip: one gather from the padded batch, with per-sample offsets and mirrored columns;
- color_jitter: the torchvision blend formulas with (B, 1, 1, 1) per-sample factors;
- randaugment / autoaugment: on the CPU samples are grouped by the op they drew, and each
  distinct op runs once, through torchvision's own op code, on the subset that drew it — at
  most (#distinct ops × 2 signs) calls per op slot, whatever the batch size. On a GPU, where
  group sizes would have to be read on the host, all shears, translations and rotations of a
  slot run as one batched warp (torchvision's grid arithmetic, per-sample matrices looked up
  on the device) and every other op once on the whole batch: no sync inside a step.

Inputs are float (B, C, H, W) images in [0, 1]; outputs keep shape, dtype and range. The
v2 functional ops are defined for float images (Solarize thresholds against 1.0, Posterize
floors to 2**bits levels, Equalize bins through uint8 internally), so images are never
quantized to uint8 here: samples that draw Identity come back bit-for-bit unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import torch
import torch.nn.functional as F
from pydantic import Field

from regbench.params import NonNegative, NonNegativeInt
from regbench.regularizers import register_regularizer
from regbench.regularizers.augment_ops import (  # noqa: F401 (re-exported: callers import them from here)
    GREY_WEIGHTS,
    RANDAUGMENT_BINS,
    _grey,
    _tv_auto_augment,
    _op_kwargs,
    _op_magnitude,
    _ActionTable,
    _randaugment_table,
    _autoaugment_table,
    _on_device,
    _identity_mask,
    apply_actions,
    apply_actions_grouped,
    _inverse_affine_matrix,
    _affine_tables,
    apply_geometric_actions,
    _blend_per_sample,
    _sharpness_kernel,
    _sharpness_per_sample,
    _family_op,
    _family_tables,
    apply_actions_masked,
    GEOMETRIC_OPS,
)
from regbench.regularizers.base import Regularizer, SetupContext

PadMode = Literal["zeros", "reflect", "replicate"]  # in signatures: checked when the suite loads
PolicyName = Literal["cifar10", "imagenet", "svhn"]  # torchvision's learned AutoAugment policies
PAD_MODES = dict(zip(get_args(PadMode), ("constant", "reflect", "replicate"), strict=True))  # → F.pad mode
AUTOAUGMENT_POLICIES = get_args(PolicyName)


def check_images(x: torch.Tensor, name: str) -> None:
    """Raise a clear error unless x is a float (B, C, H, W) image batch."""
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"{name}: expected float images of shape (B, C, H, W), got {tuple(x.shape)} {x.dtype}")


def _uniform(g: torch.Generator, n: int, lo: float, hi: float, device) -> torch.Tensor:
    """(n,) draws from U[lo, hi) made on g's device, returned on ``device``."""
    return (lo + (hi - lo) * torch.rand(n, generator=g, device=g.device)).to(device)


def _randint(g: torch.Generator, high: int, n: int, device) -> torch.Tensor:
    """(n,) int64 draws from {0, …, high − 1} made on g's device, returned on ``device``."""
    return torch.randint(high, (n,), generator=g, device=g.device).to(device)


@register_regularizer("crop_flip")
class CropFlip(Regularizer):
    """Random crop after padding, plus a horizontal flip where the data allow it (He et al., arXiv:1512.03385).

    ``padding=None`` scales with the image: max(1, round(min(H, W) / 8)) pixels, i.e. 1 on
    8×8 digits and the standard 4 on 32×32 CIFAR. The flip is applied only when the dataset
    declares horizontal-flip invariance (``SetupContext.flip_invariant``) — never on digits.
    """

    kind = "augmentation"
    modalities = ("image",)  # reads x as (B, C, H, W) pixels: refused on audio when a suite loads

    def __init__(
        self,
        padding: NonNegativeInt | None = None,
        flip: bool = True,
        padding_mode: PadMode = "zeros",
    ):
        self.padding = padding
        self.flip = flip
        self.padding_mode = padding_mode

    def setup(self, ctx: SetupContext) -> None:
        if self.padding is not None and self.padding < 0:
            raise ValueError(f"crop_flip: padding must be >= 0 or None (auto), got {self.padding}")
        if self.padding_mode not in PAD_MODES:
            raise ValueError(f"crop_flip: padding_mode must be one of {sorted(PAD_MODES)}, got {self.padding_mode!r}")
        self._flip_ok = self.flip and ctx.flip_invariant

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        check_images(x, "crop_flip")
        if not hasattr(self, "_flip_ok"):
            raise RuntimeError("crop_flip: call setup(ctx) first (it says whether flips are allowed)")
        b, c, h, w = x.shape
        p = max(1, round(min(h, w) / 8)) if self.padding is None else self.padding
        if self.padding_mode == "reflect" and p >= min(h, w):
            raise ValueError(f"crop_flip: reflect padding {p} needs images larger than {p}, got {h}×{w}")
        # Offsets ∈ [0, 2p] in the padded frame; the flip draw is made even when unused so
        # that the crop offsets do not depend on the dataset's flip flag.
        oy, ox = _randint(g, 2 * p + 1, b, x.device), _randint(g, 2 * p + 1, b, x.device)
        flip = (_uniform(g, b, 0.0, 1.0, x.device) < 0.5) & self._flip_ok
        xp = F.pad(x, (p, p, p, p), mode=PAD_MODES[self.padding_mode]) if p else x
        ar_h, ar_w = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
        rows = oy[:, None] + ar_h  # (B, H)
        cols = ox[:, None] + torch.where(flip[:, None], ar_w.flip(0), ar_w)  # (B, W), mirrored if flipped
        # One gather over the flattened padded image does crop and flip for every sample.
        idx = (rows[:, :, None] * (w + 2 * p) + cols[:, None, :]).view(b, 1, h * w).expand(b, c, h * w)
        return xp.flatten(2).gather(2, idx).view(b, c, h, w), y


@register_regularizer("color_jitter")
class ColorJitter(Regularizer):
    """Per-sample brightness, contrast, saturation and hue jitter (torchvision ColorJitter; Krizhevsky et al. 2012).

    Factors are drawn per sample from U[max(0, 1 − s), 1 + s] (hue from U[−h, h]) and applied
    with torchvision's definitions: brightness scales, contrast blends with the image's mean
    grey level, saturation blends with the per-pixel grey image, hue rotates in HSV. Saturation
    and hue do nothing on 1-channel images. Order is fixed (brightness, contrast, saturation,
    hue) where torchvision permutes it per call; the first three commute except for clipping.
    Defaults follow timm's ``color_jitter=0.4``.
    """

    kind = "augmentation"
    modalities = ("image",)  # reads x as (B, C, H, W) pixels: refused on audio when a suite loads

    def __init__(
        self,
        brightness: NonNegative = 0.4,
        contrast: NonNegative = 0.4,
        saturation: NonNegative = 0.4,
        hue: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0,  # torchvision ColorJitter's range
    ):
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue

    def setup(self, ctx: SetupContext) -> None:
        for name in ("brightness", "contrast", "saturation"):
            if getattr(self, name) < 0:
                raise ValueError(f"color_jitter: {name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.hue <= 0.5:
            raise ValueError(f"color_jitter: hue must be in [0, 0.5], got {self.hue}")

    def make_params(self, b: int, g: torch.Generator, device) -> dict[str, torch.Tensor | None]:
        """Per-sample factors, each (B,) or None when that jitter is off."""
        out: dict[str, torch.Tensor | None] = {}
        for name in ("brightness", "contrast", "saturation"):
            s = getattr(self, name)
            out[name] = _uniform(g, b, max(0.0, 1.0 - s), 1.0 + s, device) if s > 0 else None
        out["hue"] = _uniform(g, b, -self.hue, self.hue, device) if self.hue > 0 else None
        return out

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        check_images(x, "color_jitter")
        return apply_color_jitter(x, self.make_params(x.shape[0], g, x.device)), y


def _blend(x: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """torchvision's ``_blend`` with a per-sample ratio (B,): ratio·x + (1 − ratio)·other, clipped."""
    r = ratio.view(-1, 1, 1, 1).to(x.dtype)
    return (r * x + (1.0 - r) * other).clamp_(0.0, 1.0)


def apply_color_jitter(x: torch.Tensor, params: dict[str, torch.Tensor | None]) -> torch.Tensor:
    """Apply per-sample jitter factors (each (B,) or None) to x (B, C, H, W) in [0, 1]."""
    if params["brightness"] is not None:
        x = _blend(x, torch.zeros((), dtype=x.dtype, device=x.device), params["brightness"])
    if params["contrast"] is not None:
        x = _blend(x, _grey(x).mean(dim=(1, 2, 3), keepdim=True), params["contrast"])
    if x.shape[1] == 3 and params["saturation"] is not None:
        x = _blend(x, _grey(x), params["saturation"])
    if x.shape[1] == 3 and params["hue"] is not None:
        from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv

        h, s, v = _rgb_to_hsv(x).unbind(1)
        h = (h + params["hue"].view(-1, 1, 1)).remainder(1.0)
        x = _hsv_to_rgb(torch.stack((h, s, v), dim=1))
    return x


@register_regularizer("randaugment")
class RandAugment(Regularizer):
    """RandAugment with a new op and sign per sample and per slot (Cubuk et al., arXiv:1909.13719).

    Uses torchvision v2's op table (14 ops incl. Identity, 31 magnitude bins) and op code.
    """

    kind = "augmentation"
    modalities = ("image",)  # reads x as (B, C, H, W) pixels: refused on audio when a suite loads

    def __init__(self, num_ops: NonNegativeInt = 2, magnitude: Annotated[int, Field(ge=0, le=30)] = 9):
        self.num_ops = num_ops
        self.magnitude = magnitude

    def setup(self, ctx: SetupContext) -> None:
        if self.num_ops < 0:
            raise ValueError(f"randaugment: num_ops must be >= 0, got {self.num_ops}")
        if not 0 <= self.magnitude < RANDAUGMENT_BINS:
            raise ValueError(f"randaugment: magnitude must be in [0, {RANDAUGMENT_BINS - 1}], got {self.magnitude}")

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        check_images(x, "randaugment")
        b, _, h, w = x.shape
        table, ids = _randaugment_table(self.magnitude, h, w)
        ids = _on_device(ids, x.device)
        for _ in range(self.num_ops):
            op = _randint(g, ids.shape[0], b, x.device)
            neg = (_uniform(g, b, 0.0, 1.0, x.device) < 0.5).long()
            x = apply_actions(x, ids[op, neg], table.actions)
        return x, y


@register_regularizer("autoaugment")
class AutoAugment(Regularizer):
    """AutoAugment with a sub-policy, probabilities and signs drawn per sample (Cubuk et al., arXiv:1805.09501).

    Uses torchvision v2's learned policies (``cifar10``, ``imagenet``, ``svhn``) and op code.
    """

    kind = "augmentation"
    modalities = ("image",)  # reads x as (B, C, H, W) pixels: refused on audio when a suite loads

    def __init__(self, policy: PolicyName = "cifar10"):
        self.policy = policy

    def setup(self, ctx: SetupContext) -> None:
        if self.policy not in AUTOAUGMENT_POLICIES:
            raise ValueError(f"autoaugment: policy must be one of {list(AUTOAUGMENT_POLICIES)}, got {self.policy!r}")

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        check_images(x, "autoaugment")
        b, _, h, w = x.shape
        table, ids, probs = _autoaugment_table(self.policy, h, w)
        ids, probs = _on_device(ids, x.device), _on_device(probs, x.device)
        sub = _randint(g, ids.shape[0], b, x.device)
        for k in range(ids.shape[1]):
            applied = _uniform(g, b, 0.0, 1.0, x.device) < probs[sub, k]
            neg = (_uniform(g, b, 0.0, 1.0, x.device) < 0.5).long()
            action = torch.where(applied, ids[sub, k, neg], -1)
            x = apply_actions(x, action, table.actions)
        return x, y
