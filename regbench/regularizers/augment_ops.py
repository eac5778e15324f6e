"""RandAugment's and AutoAugment's op machinery: torchvision's op table, per-sample draws, and
two ways to apply them (split from :mod:`regbench.regularizers.augment`, which re-exports it).

On the CPU samples are grouped by the op they drew and each distinct op runs once, through
torchvision's own op code, on the subset that drew it (:func:`apply_actions`). On a GPU, where
group sizes would have to be read on the host, :func:`apply_actions_masked` runs every shear,
translation and rotation of a slot as one batched warp and every other op family once on the
whole batch, each sample keeping the result of the op it drew: no sync inside a step.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

GREY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, as torchvision's rgb_to_grayscale
RANDAUGMENT_BINS = 31  # torchvision's num_magnitude_bins: magnitude ∈ [0, 30]


def _grey(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B, 1, H, W) luma (the image itself when C == 1)."""
    if x.shape[1] == 1:
        return x
    r, g_, b = x.unbind(1)
    return (GREY_WEIGHTS[0] * r + GREY_WEIGHTS[1] * g_ + GREY_WEIGHTS[2] * b).unsqueeze(1)


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
