"""ResNet-18 with the CIFAR stem (He et al., arXiv:1512.03385), built from torchvision's."""

from __future__ import annotations

import functools
from functools import partial
from typing import Literal

from torch import nn

from regbench.models import register_model
from regbench.models.norms import make_norm
from regbench.params import PositiveInt, Rate


@register_model("resnet18")
def resnet18(
    input_shape: tuple[int, ...],
    num_classes: int,
    dropout: Rate = 0.0,
    norm: Literal["none", "batch", "layer", "group", "rms"] = "batch",
    width: PositiveInt = 64,
    drop_path: Rate = 0.0,
) -> nn.Module:
    """torchvision's ResNet-18 with a CIFAR stem: 3×3 conv, stride 1, no max-pool.

    The ImageNet stem (7×7 stride-2 conv + max-pool) would shrink a 32×32 image to 8×8
    before the first block; the CIFAR stem keeps 32×32 (as in the ResNet paper's §4.2 and
    most CIFAR recipes). Input (B, C, H, W) → logits (B, num_classes). ``norm`` replaces
    every BatchNorm through torchvision's ``norm_layer`` (``none`` = identity, e.g. for the
    normalization-free baseline); ``dropout`` applies before the final linear layer.
    ``width`` scales the stem (64 in the paper); stages have width·(1, 2, 4, 8) channels.
    ``drop_path`` > 0 is stochastic depth (models/drop_path.py): the 8 residual branches are
    dropped with probabilities rising linearly to ``drop_path`` at the last block.
    """
    from torchvision.models.resnet import BasicBlock

    norm_layer = partial(make_norm, norm, spatial=True)
    # torchvision's resnet18(weights=None) is exactly ResNet(BasicBlock, [2, 2, 2, 2]); the
    # subclass only adds the features / classifier split (models/parts.py)
    model = _resnet_class()(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, norm_layer=norm_layer)
    if width != 64:  # same layout, narrower (for quick tests and small budgets)
        _rescale(model, width, num_classes, norm_layer)
    model.conv1 = nn.Conv2d(input_shape[0], model.conv1.out_channels, 3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")  # torchvision's init
    model.maxpool = nn.Identity()
    if dropout > 0:
        model.fc = nn.Sequential(nn.Dropout(dropout), model.fc)
    if drop_path > 0:
        _add_drop_path(model, drop_path)
    return model


def _add_drop_path(model: nn.Module, rate: float) -> None:
    """Give every BasicBlock a DropPath on its residual branch (linear decay over the blocks)."""
    from torchvision.models.resnet import BasicBlock

    from regbench.models.drop_path import DropPath, linear_decay

    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    for block, p in zip(blocks, linear_decay(rate, len(blocks)), strict=True):
        block.__class__ = _drop_path_block()  # same parameters and buffers; forward adds the drop
        block.drop_path = DropPath(p)


@functools.cache
def _drop_path_block():
    """torchvision's BasicBlock whose residual branch passes ``self.drop_path`` before the sum."""
    import torch
    from torchvision.models.resnet import BasicBlock

    class DropPathBasicBlock(BasicBlock):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(self.drop_path(out) + identity)

    return DropPathBasicBlock


def _resnet_class():
    """torchvision's ResNet with ``features(x)`` (B, 8·width) and ``classifier`` (``fc``)."""
    import torch
    from torchvision.models.resnet import ResNet

    class FeaturesResNet(ResNet):
        def features(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return torch.flatten(self.avgpool(x), 1)

        @property
        def classifier(self) -> nn.Module:
            return self.fc

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.features(x))

    return FeaturesResNet


def _rescale(model: nn.Module, width: int, num_classes: int, norm_layer) -> None:
    """Rebuild ``model``'s stages with ``width`` base channels in place of 64."""
    from torchvision.models.resnet import BasicBlock

    model.inplanes = width
    model.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)  # replaced by the caller's stem
    model.bn1 = norm_layer(width)
    for i, name in enumerate(("layer1", "layer2", "layer3", "layer4")):
        layer = model._make_layer(BasicBlock, width * 2**i, 2, stride=1 if i == 0 else 2)
        for m in layer.modules():  # torchvision's init, which its constructor gave the old layers
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        setattr(model, name, layer)
    model.fc = nn.Linear(width * 8, num_classes)
