"""Label smoothing as a target transform, so it composes with mixup/cutmix (timm's mixup_target)."""

from __future__ import annotations

import torch

from regbench.params import Rate
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import TASKS, Regularizer


@register_regularizer("label_smoothing")
class LabelSmoothing(Regularizer):
    """Mix targets with the uniform distribution: y ← (1 − ε) y + ε / K (Szegedy et al., arXiv:1512.00567).

    Equivalent to ``F.cross_entropy(..., label_smoothing=ε)`` for one-hot targets, and
    linear, so its order relative to mixup does not matter. On a sequence task the targets
    stay token ids, so the same ε reaches the token loss through :meth:`target_smoothing`.
    """

    kind = "loss"
    tasks = TASKS

    def __init__(self, smoothing: Rate = 0.1):
        self.smoothing = smoothing

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        if not y.is_floating_point():  # token ids (seq2seq): smoothed in the loss instead
            return x, y
        k = y.shape[-1]
        return x, y * (1.0 - self.smoothing) + self.smoothing / k

    def target_smoothing(self) -> float:
        return self.smoothing
