"""Gradient-norm clipping (Pascanu et al., arXiv:1211.5063)."""

from __future__ import annotations

import torch
from torch import nn

from regbench.params import Positive
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import TASKS, History, Regularizer, SetupContext


@register_regularizer("grad_clip")
class GradClip(Regularizer):
    """Scale the gradient so its total L2 norm is at most ``max_norm`` (1.0)."""

    kind = "gradient"
    tasks = TASKS  # acts on weights, gradients or the loss only: any task

    def __init__(self, max_norm: Positive = 1.0):
        self.max_norm = max_norm

    def setup(self, ctx: SetupContext) -> None:
        self._steps, self._clipped = 0, 0.0

    def after_backward(self, model: nn.Module) -> None:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), self.max_norm)
        # a tensor sum, so that counting never forces a device sync inside the step
        self._steps = getattr(self, "_steps", 0) + 1
        self._clipped = getattr(self, "_clipped", 0.0) + (norm > self.max_norm).float()

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        """The mechanism number: the fraction of steps whose gradient norm was clipped."""
        return {"clipped_fraction": float(getattr(self, "_clipped", 0.0)) / max(getattr(self, "_steps", 0), 1)}
