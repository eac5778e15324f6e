"""Decoupled weight decay (AdamW), the default regularizer of modern training recipes."""

from __future__ import annotations

from typing import Any

from torch import nn

from regbench.params import NonNegative
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import TASKS, History, Regularizer


@register_regularizer("weight_decay")
class WeightDecay(Regularizer):
    """Decoupled weight decay (AdamW; Loshchilov & Hutter, arXiv:1711.05101).

    Decays only ≥ 2-D weights; biases and normalization parameters get no decay (nanoGPT's
    ``configure_optimizers``). The split (how many parameters are decayed) is recorded in
    the run's metrics as ``decayed_params`` / ``undecayed_params``.
    """

    kind = "optimizer"
    tasks = TASKS  # acts on weights, gradients or the loss only: any task
    decoupled_weight_decay = True

    def __init__(self, weight_decay: NonNegative = 0.05):
        self.weight_decay = weight_decay

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
        self._split = (sum(p.numel() for p in decay), sum(p.numel() for p in no_decay))
        return [
            {"params": decay, "weight_decay": self.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        decayed, undecayed = getattr(self, "_split", (0, 0))
        return {"decayed_params": float(decayed), "undecayed_params": float(undecayed)}

    def describe(self):
        return {"weight_decay": self.weight_decay}
