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

import functools
from typing import Annotated, Literal, get_args

import torch
import torch.nn.functional as F
from pydantic import Field

from regbench.params import NonNegative, NonNegativeInt
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Regularizer, SetupContext

PadMode = Literal["zeros", "reflect", "replicate"]  # in signatures: checked when the suite loads
PolicyName = Literal["cifar10", "imagenet", "svhn"]  # torchvision's learned AutoAugment policies
PAD_MODES = dict(zip(get_args(PadMode), ("constant", "reflect", "replicate"), strict=True))  # → F.pad mode
AUTOAUGMENT_POLICIES = get_args(PolicyName)
RANDAUGMENT_BINS = 31  # torchvision's num_magnitude_bins: magnitude ∈ [0, 30]
GREY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, as torchvision's rgb_to_grayscale


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


def _grey(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B, 1, H, W) luma (the image itself when C == 1)."""
    if x.shape[1] == 1:
        return x
    r, g_, b = x.unbind(1)
    return (GREY_WEIGHTS[0] * r + GREY_WEIGHTS[1] * g_ + GREY_WEIGHTS[2] * b).unsqueeze(1)


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


# ---- RandAugment / AutoAugment: torchvision's op table, per-sample draws, grouped application


@functools.cache
def _tv_auto_augment(policy: str = "cifar10"):
    """A torchvision v2 AutoAugment instance: its op table, policies and op code are reused."""
    from torchvision.transforms import v2

    return v2.AutoAugment(policy=v2.AutoAugmentPolicy(policy))


def _op_kwargs(tv, interpolation=None) -> dict:
    """torchvision's defaults for the auto-augment ops: nearest interpolation (unless given), zero fill."""
    return {"interpolation": tv.interpolation if interpolation is None else interpolation, "fill": tv._fill}


def _op_magnitude(space: dict, name: str, bins: int, index: int | None, h: int, w: int) -> tuple[float, bool]:
    """(magnitude, signed) of torchvision op ``name`` at bin ``index`` of ``bins`` for an h×w image."""
    fn, signed = space[name]
    mags = fn(bins, h, w)
    return (0.0 if mags is None or index is None else float(mags[index])), signed


class _ActionTable:
    """Distinct (op name, signed magnitude) actions, so equal actions run as one group."""

    def __init__(self):
        self.actions: list[tuple[str, float]] = []
        self._index: dict[tuple[str, float], int] = {}

    def _id(self, key: tuple[str, float]) -> int:
        if key not in self._index:
            self._index[key] = len(self.actions)
            self.actions.append(key)
        return self._index[key]

    def add(self, name: str, magnitude: float, signed: bool) -> list[int]:
        """Action ids of the (+, −) variants of an op; unsigned ops map both signs to one id."""
        if signed and magnitude == 0.0:  # every signed op is the identity at 0: skip the call
            name = "Identity"
        return [self._id((name, magnitude)), self._id((name, -magnitude if signed else magnitude))]


@functools.cache
def _randaugment_table(magnitude: int, h: int, w: int) -> tuple[_ActionTable, torch.Tensor]:
    """Actions of RandAugment at ``magnitude`` on h×w images and ids (num ops, 2 signs)."""
    from torchvision.transforms import v2

    space, table = v2.RandAugment._AUGMENTATION_SPACE, _ActionTable()
    ids = [table.add(n, *_op_magnitude(space, n, RANDAUGMENT_BINS, magnitude, h, w)) for n in space]
    return table, torch.tensor(ids)


@functools.cache
def _autoaugment_table(policy: str, h: int, w: int) -> tuple[_ActionTable, torch.Tensor, torch.Tensor]:
    """Actions of an AutoAugment policy on h×w images: ids (S, 2 slots, 2 signs), probs (S, 2)."""
    tv = _tv_auto_augment(policy)
    table, ids, probs = _ActionTable(), [], []
    for sub in tv._policies:  # 2 (op, probability, magnitude bin of 10) per sub-policy
        ids.append([table.add(n, *_op_magnitude(tv._AUGMENTATION_SPACE, n, 10, m, h, w)) for n, _, m in sub])
        probs.append([p for _, p, _ in sub])
    return table, torch.tensor(ids), torch.tensor(probs)


@functools.cache
def _on_device(table: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A cached table's copy on ``device``, made once: a copy per step would sync a GPU."""
    return table.to(device)


@functools.cache
def _identity_mask(actions: tuple[tuple[str, float], ...], device: torch.device) -> torch.Tensor:
    """(A + 1,) bool: is action a the identity (the last entry stands for −1, "unchanged")?"""
    return torch.tensor([n == "Identity" for n, _ in actions] + [True], device=device)


def apply_actions(
    x: torch.Tensor, action: torch.Tensor, actions: list[tuple[str, float]], interpolation=None
) -> torch.Tensor:
    """Apply ``actions[action[i]]`` to sample i (−1: unchanged); one op call per distinct action.

    x: (B, C, H, W) float in [0, 1]; action: (B,) int64. Uses torchvision's own op code
    (nearest interpolation unless ``interpolation`` is given, zero fill) with parameters drawn
    by the caller, never its RNG. On the CPU each action runs on the samples that drew it;
    elsewhere (:func:`apply_actions_masked`) the geometric actions run as one batched warp
    and the others on the whole batch, kept where drawn: grouping needs the groups' sizes on
    the host, a GPU sync per op slot. Both give the same images (bit-identical on the CPU).
    """
    if x.device.type != "cpu":
        return apply_actions_masked(x, action, actions, interpolation)
    return apply_actions_grouped(x, action, actions, interpolation)


def apply_actions_grouped(
    x: torch.Tensor, action: torch.Tensor, actions: list[tuple[str, float]], interpolation=None
) -> torch.Tensor:
    """:func:`apply_actions` by groups on any device: each distinct action runs once, on the
    samples that drew it. x: (B, C, H, W); action: (B,) int64 (−1: unchanged), on the CPU or
    on x's device (then reading the groups' sizes is one host sync).
    """
    tv = _tv_auto_augment()
    # Only samples with a real op are touched. Sorting them by action makes each action's
    # samples one contiguous slice of a single gather (a view, no copy per group).
    identity = _identity_mask(tuple(actions), action.device)
    idx = (~identity[action]).nonzero().squeeze(1)
    if idx.numel() == 0:
        return x
    order = torch.argsort(action[idx], stable=True)
    idx = idx[order]
    ids, counts = torch.unique_consecutive(action[idx], return_counts=True)
    idx = idx.to(x.device)
    out = x.clone()
    groups = zip(ids.tolist(), x[idx].split(counts.tolist()), idx.split(counts.tolist()), strict=True)
    for a, xa, ia in groups:
        name, mag = actions[a]
        out.index_copy_(0, ia, tv._apply_image_or_video_transform(xa, name, mag, **_op_kwargs(tv, interpolation)))
    return out


GEOMETRIC_OPS = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")  # torchvision's affine ops


def _inverse_affine_matrix(name: str, magnitude: float, h: int, w: int) -> list[float]:
    """The 6-entry inverse affine matrix torchvision's ``name`` op builds for an h×w image.

    Same arguments as ``AutoAugment._apply_image_or_video_transform`` passes to ``affine`` /
    ``rotate`` (shears about the top-left corner, translations in whole pixels, rotations
    about the centre), fed to the same ``_get_inverse_affine_matrix``.
    """
    import math

    from torchvision.transforms.v2.functional._geometry import _get_inverse_affine_matrix

    if name in ("ShearX", "ShearY"):
        shear = math.degrees(math.atan(magnitude))
        shears = [shear, 0.0] if name == "ShearX" else [0.0, shear]
        return _get_inverse_affine_matrix([-w * 0.5, -h * 0.5], 0.0, [0.0, 0.0], 1.0, shears)
    if name in ("TranslateX", "TranslateY"):
        t = float(int(magnitude))
        return _get_inverse_affine_matrix(
            [0.0, 0.0], 0.0, [t, 0.0] if name == "TranslateX" else [0.0, t], 1.0, [0.0, 0.0]
        )
    if name == "Rotate":
        return _get_inverse_affine_matrix([0.0, 0.0], -(magnitude % 360), [0.0, 0.0], 1.0, [0.0, 0.0])
    raise ValueError(f"not a geometric op: {name}")


@functools.cache
def _affine_tables(
    actions: tuple[tuple[str, float], ...], h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-action affine sampling tables for h×w float32 images, built once on the CPU.

    Returns (theta (A + 1, 3, 2): torchvision's rescaled transposed matrix per action, the
    identity for non-geometric actions and for the last row, which stands for −1;
    geometric (A + 1,) bool; base grid (1, H·W, 3)). The arithmetic is torchvision's
    ``_affine_grid``, so a batched grid equals its per-op grid.
    """
    identity = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    mats = [_inverse_affine_matrix(n, m, h, w) if n in GEOMETRIC_OPS else identity for n, m in actions] + [identity]
    scale = torch.tensor([0.5 * w, 0.5 * h], dtype=torch.float32)
    theta = torch.tensor(mats, dtype=torch.float32).reshape(-1, 2, 3).transpose(1, 2).div(scale)
    geometric = torch.tensor([n in GEOMETRIC_OPS for n, _ in actions] + [False])
    base = torch.empty(1, h, w, 3)
    base[..., 0].copy_(torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, steps=w))
    base[..., 1].copy_(torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, steps=h).unsqueeze_(-1))
    base[..., 2].fill_(1)
    return theta.contiguous(), geometric, base.view(1, h * w, 3)


def apply_geometric_actions(
    x: torch.Tensor, action: torch.Tensor, actions: list[tuple[str, float]], mode: str = "nearest"
) -> torch.Tensor:
    """Every geometric action (shear, translate, rotate) of ``action`` in one batched warp.

    x: (B, C, H, W) float; action: (B,) int64 on x's device (−1: unchanged). Each sample is
    resampled (``mode``: "nearest" or "bilinear"; zero fill) through its own action's matrix, looked up on the device
    from tables copied there once, so no step copies anything to the device or reads a
    value back (torchvision builds each matrix with ``torch.tensor(..., device=...)``, a
    host-to-device copy that syncs a GPU per call). Non-geometric samples are returned as given.
    """
    from torchvision.transforms.v2.functional._geometry import _apply_grid_transform

    b, _, h, w = x.shape
    theta, geometric, base = (_on_device(t, x.device) for t in _affine_tables(tuple(actions), h, w))
    theta, base = theta.to(x.dtype), base.to(x.dtype)  # no-ops for float32 images
    grid = base.expand(b, -1, -1).bmm(theta[action]).view(b, h, w, 2)  # −1 picks the identity row
    warped = _apply_grid_transform(x, grid, mode, fill=None)
    return torch.where(geometric[action].view(-1, 1, 1, 1), warped, x)


def _blend_per_sample(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision's float ``_blend`` with a per-sample factor (B,): factor·x + (1 − factor)·other, clipped."""
    f = factor.view(-1, 1, 1, 1)
    return x.mul(f).add_(other * (1.0 - f)).clamp_(0.0, 1.0)


@functools.cache
def _sharpness_kernel(channels: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """torchvision's 3×3 smoothing kernel for ``adjust_sharpness``, (C, 1, 3, 3), made once per device."""
    a, b = 1.0 / 13.0, 5.0 / 13.0
    return torch.tensor([[a, a, a], [a, b, a], [a, a, a]], dtype=dtype).to(device).expand(channels, 1, 3, 3)


def _sharpness_per_sample(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision's float ``adjust_sharpness`` with a per-sample factor (B,); borders unchanged."""
    c, h, w = x.shape[-3:]
    if h <= 2 or w <= 2:
        return x
    out = x.clone()
    blurred = F.conv2d(out, _sharpness_kernel(c, x.dtype, x.device), groups=c)
    view = out[..., 1:-1, 1:-1]
    view.add_(blurred.sub_(view).mul_((1.0 - factor).view(-1, 1, 1, 1)))
    return out.clamp_(0.0, 1.0)


def _family_op(name: str, x: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """torchvision op ``name`` on the whole float batch x (B, C, H, W), magnitude ``param`` (B,) per sample."""
    tv = _tv_auto_augment()
    if name == "Brightness":
        return x.mul(1.0 + param.view(-1, 1, 1, 1)).clamp_(0.0, 1.0)
    if name == "Color":
        return _blend_per_sample(x, _grey(x), 1.0 + param) if x.shape[1] == 3 else x
    if name == "Contrast":
        return _blend_per_sample(x, _grey(x).mean(dim=(-3, -2, -1), keepdim=True), 1.0 + param)
    if name == "Sharpness":
        return _sharpness_per_sample(x, 1.0 + param)
    if name == "Posterize":
        levels = torch.exp2(param.floor()).view(-1, 1, 1, 1)  # bits = int(magnitude) ≥ 0
        return x.mul(levels).floor_().clamp_(torch.zeros_like(levels), levels - 1).div_(levels)
    if name == "Solarize":
        return torch.where(x >= param.view(-1, 1, 1, 1), 1.0 - x, x)  # float bound 1.0
    return tv._apply_image_or_video_transform(x, name, 0.0, **_op_kwargs(tv))  # AutoContrast, Equalize, Invert


@functools.cache
def _family_tables(actions: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], torch.Tensor, torch.Tensor]:
    """Non-geometric, non-identity op families of ``actions``: (names, family id per action
    (A + 1,) int64 with −1 for the rest and for the last row (−1, "unchanged"), magnitude
    per action (A + 1,) float32), built once on the CPU."""
    names = tuple(dict.fromkeys(n for n, _ in actions if n != "Identity" and n not in GEOMETRIC_OPS))
    family = torch.tensor([names.index(n) if n in names else -1 for n, _ in actions] + [-1])
    magnitude = torch.tensor([m for _, m in actions] + [0.0], dtype=torch.float32)
    return names, family, magnitude


def apply_actions_masked(
    x: torch.Tensor, action: torch.Tensor, actions: list[tuple[str, float]], interpolation=None
) -> torch.Tensor:
    """:func:`apply_actions` with batch-wide masks: no value is read on the host and nothing
    is copied to the device, so a GPU never waits inside a step.

    x: (B, C, H, W) float in [0, 1]; action: (B,) int64 on x's device (−1: unchanged). Each
    op runs once per call whatever magnitudes were drawn: the geometric ones together as
    one batched warp (:func:`apply_geometric_actions`), every other op family on the whole
    batch with each sample's own magnitude (torchvision's float formulas), and each sample
    keeps the result of the action it drew. Cost: 1 + (#op families) calls per op slot.
    """
    tv = _tv_auto_augment()
    mode = _op_kwargs(tv, interpolation)["interpolation"]
    out = apply_geometric_actions(x, action, actions, getattr(mode, "value", mode))
    names, family, magnitude = _family_tables(tuple(actions))
    family, magnitude = _on_device(family, x.device)[action], _on_device(magnitude, x.device)[action]
    param = magnitude.to(x.dtype)
    for k, name in enumerate(names):
        out = torch.where((family == k).view(-1, 1, 1, 1), _family_op(name, x, param), out)
    return out


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
