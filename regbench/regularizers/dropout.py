"""Dropout (Srivastava et al. 2014, JMLR 15): a model override, not a training-loop change."""

from __future__ import annotations

from typing import Any

from regbench.params import Rate
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import TASKS, Regularizer


@register_regularizer("dropout")
class Dropout(Regularizer):
    """Dropout with probability p before every hidden linear/conv layer's output (p = 0.1)."""

    kind = "architecture"
    tasks = TASKS  # any model with a ``dropout`` argument (mlp, cnn, seq2seq)

    def __init__(self, p: Rate = 0.1):
        self.p = p

    def model_overrides(self) -> dict[str, Any]:
        return {"dropout": self.p}


@register_regularizer("dropout_0.5")
class DropoutHalf(Dropout):
    """Dropout p = 0.5, the classic fully-connected setting (Hinton et al., arXiv:1207.0580)."""

    def __init__(self, p: Rate = 0.5):
        self.p = p
