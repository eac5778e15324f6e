"""The corruptions' names, without their functions: a suite's covariate parameters are checked
against them when it loads (``regbench validate``), which must not import torch.

``corruptions`` maps each name to its function and ``corruptions.tables`` to its severity row,
in this order (``tests/test_corruptions.py`` checks all three agree).
"""

from __future__ import annotations

CORRUPTION_NAMES: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "speckle_noise",
    "gaussian_blur",
    "defocus_blur",
    "motion_blur",
    "zoom_blur",
    "contrast",
    "brightness",
    "saturate",
    "pixelate",
    "jpeg_compression",
    "elastic_transform",
    "rotate",
)
# ImageNet-C's held-out "validation" corruptions (spatter is not ported): keep them out of
# the test set of corruptions so that a choice made on them never sees the test shifts.
VALIDATION_CORRUPTIONS: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "saturate")
# Corruptions defined only on RGB images.
REQUIRES_RGB: frozenset[str] = frozenset({"saturate"})
