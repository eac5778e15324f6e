"""A small convolutional network for small images (8×8 digits to 32×32 shapes)."""

from __future__ import annotations

from typing import Literal

from torch import nn

from regbench.models import register_model
from regbench.models.norms import make_norm
from regbench.models.parts import SequentialClassifier
from regbench.params import PositiveInt, Rate


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
            layers.append(nn.MaxPool2d(2))
            size //= 2
        channels = out
    side = min(size, 4)
    layers += [nn.AdaptiveAvgPool2d(side), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(channels * side * side, num_classes))
    return SequentialClassifier(*layers)
