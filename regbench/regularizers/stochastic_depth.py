"""Stochastic depth / drop path (Huang et al. 2016, arXiv:1603.09382): a model override, like dropout.

The residual models (``resnet18``, ``vit``) take a ``drop_path`` argument that puts a
:class:`~regbench.models.drop_path.DropPath` at the end of every residual branch; this
regularizer sets it. A model without residual blocks (``mlp``, ``cnn``) has no such argument
and its runs fail before training with one line naming the models that have it
(``regbench.models.build_model``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from regbench.models.drop_path import dropped_fraction
from regbench.params import Rate
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import History, Regularizer


@register_regularizer("stochastic_depth")
class StochasticDepth(Regularizer):
    """Residual branches dropped per sample, linearly more often with depth (Huang et al., arXiv:1603.09382).

    ``rate`` is the last block's drop probability; block l of L drops with probability
    (l / L) · rate, the paper's linear decay rule. The default 0.5 is the paper's p_L = 0.5
    survival of the last block (§3, "we use p_L = 0.5 throughout"); timm and DeiT use 0.1 on
    ViTs (``drop_path_rate``), inside the search space. Kept branches are scaled by
    1 / (1 − p) in training and evaluation is the plain model (models/drop_path.py).

    Run-level number: ``dropped_block_fraction``, the measured share of (sample, branch)
    draws that were dropped during training — its mechanism at work.
    """

    kind = "architecture"

    def __init__(self, rate: Rate = 0.5):
        self.rate = rate

    def model_overrides(self) -> dict[str, Any]:
        return {"drop_path": self.rate}

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        fraction = dropped_fraction(model)
        return {} if fraction is None else {"dropped_block_fraction": fraction}
