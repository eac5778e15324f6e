"""A small convolutional network for small images (8×8 digits to 32×32 shapes)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from regbench.models import register_model
from regbench.models.norms import make_norm
from regbench.models.parts import SequentialClassifier
from regbench.params import PositiveInt, Rate


class MaxPool2x2(nn.MaxPool2d):
    """``nn.MaxPool2d(2)`` with the same numbers, computed where PyTorch's CPU kernel is fast.

    x (B, C, H, W) → (B, C, H//2, W//2). PyTorch's CPU kernel for a contiguous (B, C, H, W) map
    is slow on small maps (6.0 ms at (1024, 16, 8, 8), one thread); every path here gives its
    numbers bit for bit (a maximum rounds nothing, ties go to the first in raster order):

    - no gradient (evaluation, ~30 splits per run): the elementwise maximum of the four
      strided 2×2 corners, 0.53 ms;
    - under autograd (training, the curvature pass): the kernel itself. Two faster-looking
      paths lost in a whole training run: the four-way maximum's backward is ~2.4× the
      kernel's, and the kernel on a channels-last copy (1.3-2× faster forward + backward alone)
      made shapes-compositional's training 1.15× slower, its gradient reaching the conv
      layers in the other memory format.
    """

    def __init__(self) -> None:
        super().__init__(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # odd sizes: floor mode drops the last row/column, which the kernel does
        if torch.is_grad_enabled() or x.dim() != 4 or x.device.type != "cpu" or x.shape[-1] % 2 or x.shape[-2] % 2:
            return super().forward(x)
        top, bottom = x[..., 0::2, :], x[..., 1::2, :]
        return torch.maximum(
            torch.maximum(top[..., 0::2], top[..., 1::2]), torch.maximum(bottom[..., 0::2], bottom[..., 1::2])
        )


@register_model("cnn")
def cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    width: PositiveInt = 32,
    depth: PositiveInt = 2,
    dropout: Rate = 0.0,
    norm: Literal["none", "batch", "layer", "group", "rms"] = "none",
) -> nn.Module:
    """CNN: depth × [Conv3×3(width·2^i) → norm → ReLU (→ Dropout2d(p) between blocks)], 2×2
    max-pool after each block while the map is larger than 4×4, then average-pool to at most
    4×4, flatten → Dropout(p) → Linear.

    Input (B, C, H, W) → logits (B, num_classes). With the defaults on digits this is the
    32/64-channel CNN measured in docs/architecture.md, Measured here (Linear over 64·4·4 features). Keeping a 4×4
    map rather than global pooling keeps where things are, which shapes and digits need.
    """
    channels, size = input_shape[0], input_shape[-1]
    layers: list[nn.Module] = []
    for i in range(depth):
        out = width * 2**i
        layers += [nn.Conv2d(channels, out, 3, padding=1), make_norm(norm, out, spatial=True), nn.ReLU()]
        if dropout > 0 and i < depth - 1:  # channel dropout between blocks; the head has its own
            layers.append(nn.Dropout2d(dropout))
        if size > 4:
            layers.append(MaxPool2x2())
            size //= 2
        channels = out
    side = min(size, 4)
    # a 4×4 map pooled to 4×4 is the identity, which the CPU kernel took 4 ms per 1,024 images
    # to compute; Identity keeps the layer's index, so parameter names stay as published
    layers += [nn.AdaptiveAvgPool2d(side) if size != side else nn.Identity(), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(channels * side * side, num_classes))
    return SequentialClassifier(*layers)
