"""DomainBed's MNIST network as a regbench model plugin (docs/plugins.md, Your own model).

Use it from a suite with ``model: examples/mnist_cnn.py:MNISTCNN``. The architecture follows
the MNIST featurizer of DomainBed (Gulrajani & Lopez-Paz 2021, ``domainbed/networks.py``):
four 3×3 convolutions with 64, 128, 128 and 128 channels (the second with stride 2), each
followed by a ReLU and then a GroupNorm of 8 groups; the feature map is averaged over its
spatial positions into 128 numbers, which one linear layer maps to the class logits (DomainBed's
classifier without its optional hidden layer). About 371k parameters on 2×28×28 inputs.

It exposes ``features`` and ``classifier`` (docs/plugins.md, Models), so CORAL, MMD and Fishr
work with it as with the built-in models.
"""

from __future__ import annotations

import torch
from torch import nn

CHANNELS = (64, 128, 128, 128)
STRIDES = (1, 2, 1, 1)
GROUPS = 8


class MNISTCNN(nn.Module):
    """Conv → ReLU → GroupNorm, four times, then a global mean and a linear head.

    ``input_shape`` is (C, H, W): any H and W work, since the head reads the spatial mean.
    """

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, groups: int = GROUPS):
        super().__init__()
        layers: list[nn.Module] = []
        width = input_shape[0]
        for out, stride in zip(CHANNELS, STRIDES):
            layers += [nn.Conv2d(width, out, 3, stride=stride, padding=1), nn.ReLU(), nn.GroupNorm(groups, out)]
            width = out
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) → (B, 128): the convolutions, averaged over the spatial positions."""
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) → logits (B, num_classes)."""
        return self.classifier(self.features(x))
