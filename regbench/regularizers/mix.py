"""Mixup, CutMix and the per-sample switch between them, on soft targets.

Every sample gets its own mixing weight λ ~ Beta(α, α) (timm's "elem" mode), where
torchvision's MixUp/CutMix draw one λ (and one box) per batch (docs/architecture.md, Measured here: Augmentation). Each
sample i is mixed with partner ``perm[i]``, ``perm`` a random permutation of the batch drawn
from ``g`` (it may leave a few samples paired with themselves, which then stay unchanged).
Targets are (B, K) soft rows; a convex combination of rows that sum to 1 sums to 1.

Beta draws: ``torch.distributions.Beta`` samples from the global RNG, which library code
must not touch (docs/architecture.md, Conventions: Seeds), so one 63-bit seed is drawn from ``g`` per batch and a numpy
``Generator`` draws the (B,) λ — deterministic given ``g``, and cheap (one call per batch).
"""

from __future__ import annotations

import torch

from regbench.params import Positive, Probability
from regbench.regularizers import register_regularizer
from regbench.regularizers.augment import check_images
from regbench.regularizers.base import Regularizer, SetupContext


def beta(g: torch.Generator, alpha: float, n: int, device) -> torch.Tensor:
    """(n,) float32 draws from Beta(alpha, alpha), seeded from g.

    With a CPU generator, one seed is drawn from g for a numpy ``Generator`` (one call per
    batch). With a CUDA generator that would read the seed back to the host and copy the
    draws up again, two GPU syncs per call, so the draws are made on g's device instead
    (:func:`device_beta`).
    """
    if g.device.type != "cpu":
        return device_beta(g, alpha, n).to(device=device, dtype=torch.float32)
    import numpy as np

    seed = int(torch.randint(2**62, (1,), generator=g, device=g.device))
    lam = np.random.default_rng(seed).beta(alpha, alpha, size=n)
    return torch.from_numpy(lam).to(device=device, dtype=torch.float32)


def device_beta(g: torch.Generator, alpha: float, n: int, tries: int = 8) -> torch.Tensor:
    """(n,) float64 Beta(alpha, alpha) draws made on g's device with no host round-trip.

    torch's own Beta/Gamma samplers read the global RNG only (library code must not), so
    Beta = X / (X + Y) with X, Y ~ Gamma(alpha) (:func:`device_gamma`).
    """
    x, y = device_gamma(g, alpha, n, tries), device_gamma(g, alpha, n, tries)
    return torch.nan_to_num(x / (x + y), nan=0.5)  # no accepted candidate, or 0/0 for tiny alpha


def device_gamma(g: torch.Generator, alpha: float, n: int, tries: int = 8) -> torch.Tensor:
    """(n,) float64 Gamma(alpha, 1) draws made on g's device with no host round-trip (NaN: none accepted).

    Marsaglia & Tsang's method (ACM TOMS 2000), whose rejection loop becomes ``tries``
    candidates per draw, kept where first accepted: each is accepted with probability > 0.95,
    so all fail with probability < 0.05**8 ≈ 4e-11, and such a draw is NaN (callers replace
    it). alpha < 1 uses their boost, Gamma(alpha) = Gamma(alpha + 1) · U^(1/alpha).
    """
    a = alpha + 1.0 if alpha < 1 else alpha
    d = a - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    z = torch.randn(tries, n, generator=g, device=g.device, dtype=torch.float64)
    u = torch.rand(tries, n, generator=g, device=g.device, dtype=torch.float64)
    v = (1.0 + c * z) ** 3
    ok = (v > 0) & (torch.log(u) < 0.5 * z**2 + d - d * v + d * torch.log(v.clamp(min=1e-300)))
    first = ok.to(torch.int8).argmax(0, keepdim=True)  # index of the first accepted candidate
    x = (d * v).gather(0, first).squeeze(0)
    if alpha < 1:
        x = x * torch.rand(n, generator=g, device=g.device, dtype=torch.float64) ** (1.0 / alpha)
    return torch.where(ok.any(0), x, torch.full_like(x, float("nan")))


def dirichlet(g: torch.Generator, alpha: float, k: int, n: int, device) -> torch.Tensor:
    """(n, k) float32 draws from the symmetric Dirichlet(alpha, …, alpha), seeded from g.

    As :func:`beta`: a numpy ``Generator`` seeded from g with a CPU generator, normalized
    :func:`device_gamma` draws on g's device otherwise (a failed draw falls back to uniform
    weights 1/k).
    """
    if g.device.type != "cpu":
        gam = device_gamma(g, alpha, n * k).view(k, n).T
        w = torch.nan_to_num(gam / gam.sum(1, keepdim=True), nan=1.0 / k)
        return w.to(device=device, dtype=torch.float32)
    import numpy as np

    seed = int(torch.randint(2**62, (1,), generator=g, device=g.device))
    w = np.random.default_rng(seed).dirichlet([alpha] * k, size=n)
    return torch.from_numpy(w).to(device=device, dtype=torch.float32)


def partner(g: torch.Generator, n: int, device) -> torch.Tensor:
    """(n,) int64 random permutation: sample i is mixed with sample perm[i]."""
    return torch.randperm(n, generator=g, device=g.device).to(device)


def box_masks(g: torch.Generator, lam: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(B, 1, H, W) bool CutMix boxes covering about (1 − lam) of each image.

    As torchvision's CutMix, per sample: centre uniform over pixels, half-sides
    int(0.5·√(1 − λ)·side), clipped at the border (so the real area may be smaller; callers
    use the mask's own area as the weight).
    """
    b, dev = lam.shape[0], lam.device
    cy = torch.randint(h, (b,), generator=g, device=g.device).to(dev)
    cx = torch.randint(w, (b,), generator=g, device=g.device).to(dev)
    r = 0.5 * torch.sqrt(1.0 - lam)
    half_h, half_w = (r * h).long(), (r * w).long()
    rows = torch.arange(h, device=dev)[None, :]  # (1, H)
    cols = torch.arange(w, device=dev)[None, :]  # (1, W)
    in_rows = (rows >= (cy - half_h).clamp(min=0)[:, None]) & (rows < (cy + half_h).clamp(max=h)[:, None])
    in_cols = (cols >= (cx - half_w).clamp(min=0)[:, None]) & (cols < (cx + half_w).clamp(max=w)[:, None])
    return (in_rows[:, :, None] & in_cols[:, None, :]).unsqueeze(1)


def mix_targets(y: torch.Tensor, perm: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """lam_i · y_i + (1 − lam_i) · y_perm[i]. y: (B, K) soft targets; lam: (B,)."""
    lam = lam.to(y.dtype)[:, None]
    return lam * y + (1.0 - lam) * y[perm]


def _check(name: str, x: torch.Tensor, y: torch.Tensor, images: bool = True) -> None:
    if images:
        check_images(x, name)
    elif x.ndim < 2 or not x.is_floating_point():
        raise ValueError(f"{name}: expected float inputs of shape (B, ...), got {tuple(x.shape)} {x.dtype}")
    if y.ndim != 2 or y.shape[0] != x.shape[0] or not y.is_floating_point():
        raise ValueError(
            f"{name}: expected float soft targets (B, K) with B={x.shape[0]}, got {tuple(y.shape)} {y.dtype}"
        )


def _check_alpha(name: str, **alphas: float) -> None:
    for key, a in alphas.items():
        if not a > 0:
            raise ValueError(f"{name}: {key} must be > 0, got {a}")


def _mixup(x, perm, lam):
    """Element-wise blend of any (B, ...) inputs (pixels, waveforms); returns (x, weight = lam)."""
    lx = lam.to(x.dtype).view(-1, *[1] * (x.ndim - 1))
    return lx * x + (1.0 - lx) * x[perm], lam


def _cutmix(x, perm, lam, g):
    """Paste the partner's box; returns (x, weight) with weight = the kept area fraction."""
    mask = box_masks(g, lam, x.shape[2], x.shape[3])
    kept = 1.0 - mask.flatten(1).float().mean(1)
    return torch.where(mask, x[perm], x), kept


@register_regularizer("mixup")
class Mixup(Regularizer):
    """Mixup with a per-sample λ ~ Beta(α, α) (Zhang et al., arXiv:1710.09412)."""

    kind = "augmentation"

    def __init__(self, alpha: Positive = 0.2):
        self.alpha = alpha

    def setup(self, ctx: SetupContext) -> None:
        _check_alpha("mixup", alpha=self.alpha)

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        _check("mixup", x, y, images=False)  # a blend needs no pixels: mixup also mixes waveforms
        perm = partner(g, x.shape[0], x.device)
        x, lam = _mixup(x, perm, beta(g, self.alpha, x.shape[0], x.device))
        return x, mix_targets(y, perm, lam)


@register_regularizer("cutmix")
class Cutmix(Regularizer):
    """CutMix with a per-sample box of area ≈ (1 − λ), λ ~ Beta(α, α) (Yun et al., arXiv:1905.04899).

    The target weight is the area actually kept after clipping the box at the border.
    """

    kind = "augmentation"
    modalities = ("image",)  # pastes (H, W) boxes: refused on audio when a suite loads

    def __init__(self, alpha: Positive = 1.0):
        self.alpha = alpha

    def setup(self, ctx: SetupContext) -> None:
        _check_alpha("cutmix", alpha=self.alpha)

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        _check("cutmix", x, y)
        perm = partner(g, x.shape[0], x.device)
        x, kept = _cutmix(x, perm, beta(g, self.alpha, x.shape[0], x.device), g)
        return x, mix_targets(y, perm, kept)


@register_regularizer("mixup_cutmix")
class MixupCutmix(Regularizer):
    """Per sample, CutMix with probability ``switch_prob``, else Mixup, as in timm (arXiv:1905.04899, arXiv:1710.09412).

    Defaults are timm's / DeiT's (mixup α 0.8, cutmix α 1.0, switch 0.5). Both results are
    computed for the whole batch and each sample keeps one, which costs one extra blend but
    no per-sample Python.
    """

    kind = "augmentation"
    modalities = ("image",)  # pastes (H, W) boxes: refused on audio when a suite loads

    def __init__(self, mixup_alpha: Positive = 0.8, cutmix_alpha: Positive = 1.0, switch_prob: Probability = 0.5):
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.switch_prob = switch_prob

    def setup(self, ctx: SetupContext) -> None:
        _check_alpha("mixup_cutmix", mixup_alpha=self.mixup_alpha, cutmix_alpha=self.cutmix_alpha)
        if not 0.0 <= self.switch_prob <= 1.0:
            raise ValueError(f"mixup_cutmix: switch_prob must be in [0, 1], got {self.switch_prob}")

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        _check("mixup_cutmix", x, y)
        b = x.shape[0]
        perm = partner(g, b, x.device)
        use_cut = torch.rand(b, generator=g, device=g.device).to(x.device) < self.switch_prob
        x_mix, lam_mix = _mixup(x, perm, beta(g, self.mixup_alpha, b, x.device))
        x_cut, lam_cut = _cutmix(x, perm, beta(g, self.cutmix_alpha, b, x.device), g)
        x = torch.where(use_cut.view(-1, 1, 1, 1), x_cut, x_mix)
        return x, mix_targets(y, perm, torch.where(use_cut, lam_cut, lam_mix))
