"""A multi-layer perceptron over flattened inputs."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from regbench.models import register_model
from regbench.models.norms import make_norm
from regbench.models.parts import SequentialClassifier
from regbench.params import NonNegativeInt, PositiveInt, Rate


class SingleLogitHead(nn.Module):
    """A binary classifier's one logit z as the two logits [0, z]: (B, D) → (B, 2).

    softmax([0, z]) = (1 − σ(z), σ(z)), so the cross-entropy against class 1 is
    BCE-with-logits(z, 1), and against class 0 BCE-with-logits(z, 0): the IRM paper's
    ``Linear(hidden, 1)`` with ``binary_cross_entropy_with_logits``
    (facebookresearch/InvariantRiskMinimization ``code/colored_mnist/main.py`` l.83, l.100-101),
    while the task, metrics and every hook still see (B, 2) class logits; its argmax is
    class 1 exactly where z > 0, the paper's ``logits > 0.`` (l.104).
    """

    def __init__(self, in_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = self.linear(h)  # (B, 1)
        return torch.cat([torch.zeros_like(z), z], dim=-1)


@register_model("mlp")
def mlp(
    input_shape: tuple[int, ...],
    num_classes: int,
    width: PositiveInt = 256,
    depth: NonNegativeInt = 2,  # 0: logistic regression
    dropout: Rate = 0.0,
    norm: Literal["none", "batch", "layer", "group", "rms"] = "none",
    init: Literal["default", "xavier"] = "default",
    head: Literal["linear", "single_logit"] = "linear",
) -> nn.Module:
    """MLP: flatten → depth × [Linear(width) → norm → ReLU → Dropout(p)] → Linear(num_classes).

    Input (B, *input_shape) → logits (B, num_classes). ``depth=0`` is logistic regression.

    - ``init: xavier``: every Linear's weight Xavier-uniform, its bias zero, as the IRM
      paper's ColoredMNIST MLP (facebookresearch/InvariantRiskMinimization
      ``code/colored_mnist/main.py`` l.84-86); default: PyTorch's own (Kaiming-uniform).
    - ``head: single_logit`` (2 classes only): the last layer is ``Linear(width, 1)`` whose
      logit z is returned as [0, z] (:class:`SingleLogitHead`), the paper's one-logit BCE
      head (l.83, l.100-101); default: ``Linear(width, num_classes)``.
    """
    if head == "single_logit" and num_classes != 2:
        raise ValueError(f"mlp head 'single_logit' is for 2 classes; this dataset has {num_classes}")
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = math.prod(input_shape)
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), make_norm(norm, width, spatial=False), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        fan_in = width
    layers.append(SingleLogitHead(fan_in) if head == "single_logit" else nn.Linear(fan_in, num_classes))
    model = SequentialClassifier(*layers)
    if init == "xavier":
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
    return model
