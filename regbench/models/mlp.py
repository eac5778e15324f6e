"""A multi-layer perceptron over flattened inputs."""

from __future__ import annotations

import math
from typing import Literal

from torch import nn

from regbench.models import register_model
from regbench.models.norms import make_norm
from regbench.models.parts import SequentialClassifier
from regbench.params import NonNegativeInt, PositiveInt, Rate


@register_model("mlp")
def mlp(
    input_shape: tuple[int, ...],
    num_classes: int,
    width: PositiveInt = 256,
    depth: NonNegativeInt = 2,  # 0: logistic regression
    dropout: Rate = 0.0,
    norm: Literal["none", "batch", "layer", "group", "rms"] = "none",
) -> nn.Module:
    """MLP: flatten → depth × [Linear(width) → norm → ReLU → Dropout(p)] → Linear(num_classes).

    Input (B, *input_shape) → logits (B, num_classes). ``depth=0`` is logistic regression.
    """
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = math.prod(input_shape)
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), make_norm(norm, width, spatial=False), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        fan_in = width
    layers.append(nn.Linear(fan_in, num_classes))
    return SequentialClassifier(*layers)
