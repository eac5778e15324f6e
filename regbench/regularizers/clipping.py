"""Gradient-norm clipping (Pascanu et al., arXiv:1211.5063)."""

from __future__ import annotations

import torch
from torch import nn

from regbench.params import Positive
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import TASKS, Regularizer


@register_regularizer("grad_clip")
class GradClip(Regularizer):
    """Scale the gradient so its total L2 norm is at most ``max_norm`` (1.0)."""

    kind = "gradient"
    tasks = TASKS  # acts on weights, gradients or the loss only: any task

    def __init__(self, max_norm: Positive = 1.0):
        self.max_norm = max_norm

    def after_backward(self, model: nn.Module) -> None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), self.max_norm)
