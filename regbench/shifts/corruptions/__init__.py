"""Image corruptions in the manner of CIFAR-10-C (Hendrycks & Dietterich 2019).

Benchmarking Neural Network Robustness to Common Corruptions and Perturbations,
https://arxiv.org/abs/1903.12261 (reference code: hendrycks/robustness, ``make_cifar_c.py``).

Every corruption is a pure function ``fn(x, severity, g) -> x'``:
x is (N, C, H, W) float32 in [0, 1] with C = 1 or 3 and any H, W; severity is an int in
1..5 (anything else raises, where ImageNet-C silently reads severity 0 as the hardest
level); g is the only source of randomness. The result has x's shape and dtype and lies in
[0, 1]. Work is batched over images; the only Python loops run over zoom factors and
JPEG's list API, never over images one by one.

Scaling for image size: spatial parameters (blur widths, displacements) are given in
pixels at 32×32, CIFAR-10-C's resolution, and are multiplied by ``max(1, side / 32)``.
Larger images get proportionally larger blurs (ImageNet-C's 224-px values are roughly that
multiple of CIFAR's). Smaller images keep the 32-px pixel values rather than shrinking them:
a 0.1-px blur on an 8×8 digit would be a no-op, and a pixel is the finest detail such an
image holds. So small images are corrupted relatively harder at the same severity.

Scaling to the dataset: each corruption has one measured scale k per dataset that stretches its
table's distance from the identity (``tables.py``; k = 1 is CIFAR-10-C's table exactly).

Departures from CIFAR-10-C, made so that the distance to the clean image grows with
severity (the reference ``saturate`` and ``elastic_transform`` tables are not monotone):
``saturate`` only over-saturates; ``elastic_transform`` uses a smooth random field without
the extra random affine; ``pixelate`` drops at least ``severity`` pixels of side so that
every level differs on 8×8 images. glass_blur, snow, frost, fog and spatter are not ported
(they need per-image loops or texture files).

One module per job: ``tables`` (the severity tables and their per-dataset scales), ``common``
(the range-checked lookup, 32-px lengths, draws), ``noise``, ``blur``, ``digital`` (colour,
intensity, pixelate, JPEG) and ``geometric``; this package holds the name → function map.
"""

from __future__ import annotations

import torch

from regbench.registry import UnknownNameError
from regbench.shifts.corruptions.blur import defocus_blur, gaussian_blur, motion_blur, zoom_blur
from regbench.shifts.corruptions.common import Corruption
from regbench.shifts.corruptions.digital import brightness, contrast, jpeg_compression, pixelate, saturate
from regbench.shifts.corruptions.geometric import elastic_transform, rotate, rotate_by
from regbench.shifts.corruptions.noise import gaussian_noise, impulse_noise, shot_noise, speckle_noise
from regbench.shifts.corruptions.tables import (
    DATASET_SCALES,
    PARAMS,
    REQUIRES_RGB,
    VALIDATION_CORRUPTIONS,
    corruption_scale,
    severity_table,
)

# name → function, in the tables' order (the covariate shift's default list keeps this order);
# tests/test_corruptions.py checks every table row has its function and no function lacks a row
CORRUPTIONS: dict[str, Corruption] = {
    fn.__name__: fn
    for fn in (
        gaussian_noise,
        shot_noise,
        impulse_noise,
        speckle_noise,
        gaussian_blur,
        defocus_blur,
        motion_blur,
        zoom_blur,
        contrast,
        brightness,
        saturate,
        pixelate,
        jpeg_compression,
        elastic_transform,
        rotate,
    )
}


def corrupt(x: torch.Tensor, name: str, severity: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Apply corruption ``name`` at ``severity`` (1..5) to x (N, C, H, W) float in [0, 1].

    ``scale``: the dataset's calibration k (``corruption_scale``); 1.0 = CIFAR-10-C's table.
    """
    if name not in CORRUPTIONS:
        raise UnknownNameError("corruption", name, sorted(CORRUPTIONS))
    if x.dim() != 4 or not x.is_floating_point():
        raise ValueError(f"corrupt expects a float (N, C, H, W) tensor, got {x.dtype} of shape {tuple(x.shape)}")
    return CORRUPTIONS[name](x, severity, g, scale)


__all__ = [
    "CORRUPTIONS",
    "DATASET_SCALES",
    "PARAMS",
    "REQUIRES_RGB",
    "VALIDATION_CORRUPTIONS",
    "Corruption",
    "corrupt",
    "corruption_scale",
    "rotate_by",
    "severity_table",
    *CORRUPTIONS,
]
