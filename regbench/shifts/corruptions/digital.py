"""Colour, intensity and digital corruptions (contrast, brightness, saturate, pixelate, JPEG), each
``fn(x, severity, g, scale) -> x'`` on x (N, C, H, W) in [0, 1] (package docstring). None draws randomness.
"""

from __future__ import annotations

import warnings

import torch

from regbench.shifts.corruptions.common import severity_param


def contrast(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Shrink each channel's deviation from its mean over the image. x: (N, C, H, W)."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    return ((x - mean) * severity_param("contrast", severity, scale) + mean).clamp(0, 1)


def brightness(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Add to the HSV value V = max over channels, keeping hue and saturation.

    Each RGB channel is V·(1 − S·f(H)), so a new V' is a rescaling of all channels by V'/V
    (no HSV round trip). Black pixels (V = 0) become grey V'. Grey-scale: x + c.
    """
    v = x.amax(dim=1, keepdim=True)
    v_new = (v + severity_param("brightness", severity, scale)).clamp(0, 1)
    return torch.where(v > 0, x * (v_new / v.clamp(min=1e-12)), v_new).clamp(0, 1)


def saturate(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """HSV saturation s → s·a + b, keeping hue and value; RGB only. A validation corruption.

    With V = max and m = min over channels, S = (V − m)/V and each channel is
    V − (V − x)·S'/S. Grey pixels (S = 0) have no hue and stay grey.
    """
    if x.shape[1] != 3:
        raise ValueError(f"saturate needs 3-channel (RGB) images, got {x.shape[1]} channel(s)")
    a, b = severity_param("saturate", severity, scale)
    v, m = x.amax(dim=1, keepdim=True), x.amin(dim=1, keepdim=True)
    s = (v - m) / v.clamp(min=1e-12)
    s_new = (s * a + b).clamp(0, 1)
    ratio = torch.where(s > 0, s_new / s.clamp(min=1e-12), torch.zeros_like(s))
    return (v - (v - x) * ratio).clamp(0, 1)


def _block_average(side: int, cells: int, like: torch.Tensor) -> torch.Tensor:
    """(side, side) matrix averaging pixel i over its cell floor(i·cells/side)."""
    cell = torch.arange(side, device=like.device) * cells // side
    same = (cell[:, None] == cell[None, :]).to(like.dtype)
    return same / same.sum(dim=1, keepdim=True)


def pixelate(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Replace each pixel by the mean of its cell in a coarser grid (box down, box up).

    Pixel i falls in cell floor(i·n/side) with n = min(int(side·c), side − severity), so the
    cells partition the image exactly (no overlapping windows) and each severity merges more
    pixels, even on 8×8 images. x: (N, C, H, W); two small matmuls do the whole batch.
    """
    c = severity_param("pixelate", severity, scale)
    h, w = x.shape[-2:]
    ph, pw = (_block_average(s, max(1, min(int(s * c), s - severity)), x) for s in (h, w))
    return (ph @ x @ pw.T).clamp(0, 1)


def jpeg_compression(x: torch.Tensor, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Round trip through JPEG at the severity's quality (torchvision's list API; 1 or 3 ch)."""
    quality = severity_param("jpeg_compression", severity, scale)
    if x.shape[1] not in (1, 3):
        raise ValueError(f"jpeg_compression needs 1 or 3 channels, got {x.shape[1]}")
    with warnings.catch_warnings():
        # torchvision 0.29 deprecates its codecs in favour of TorchCodec, which has no
        # image encoder we can rely on offline yet; the tests pin this round trip.
        warnings.simplefilter("ignore", DeprecationWarning)
        from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg

        u8 = (x.detach() * 255).round().clamp(0, 255).to(torch.uint8).cpu()
        decoded = decode_jpeg(encode_jpeg(list(u8), quality=quality), mode=ImageReadMode.UNCHANGED)
    return (torch.stack(decoded).to(x.device, x.dtype) / 255).clamp(0, 1)
