"""Weight-magnitude penalties added to the loss: L2 (coupled), L1, elastic net."""

from __future__ import annotations

import torch
from torch import nn

from regbench.params import NonNegative, Probability
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import TASKS, Batch, Regularizer


def decayable(model: nn.Module) -> list[torch.Tensor]:
    """Weights that penalties and weight decay act on: ≥ 2-D tensors (not norms, not biases).

    nanoGPT's ``configure_optimizers`` uses the same rule: biases and normalization gains are
    1-D, and shrinking them to zero only hurts.
    """
    return [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]


@register_regularizer("l2")
class L2(Regularizer):
    """Coupled L2 penalty λΣw² on ≥ 2-D weights (ridge; Krogh & Hertz 1991).

    ``include_biases: true`` sums over every trainable parameter instead, biases and
    normalization gains included, as the IRM paper's ColoredMNIST script does
    (facebookresearch/InvariantRiskMinimization ``code/colored_mnist/main.py`` l.139-144:
    ``for w in mlp.parameters(): weight_norm += w.norm().pow(2)``; the REx and Fishr scripts
    copy it). Default: weights only (:func:`decayable`).
    """

    kind = "penalty"
    tasks = TASKS  # acts on weights, gradients or the loss only: any task

    def __init__(self, lam: NonNegative = 1e-4, include_biases: bool = False):
        self.lam = lam
        self.include_biases = include_biases

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        if self.include_biases:
            return self.lam * sum((w * w).sum() for w in model.parameters() if w.requires_grad)
        return self.lam * sum((w * w).sum() for w in decayable(model))


@register_regularizer("l1")
class L1(Regularizer):
    """L1 penalty λΣ|w| on ≥ 2-D weights (lasso; Tibshirani 1996). Drives weights to zero."""

    kind = "penalty"
    tasks = TASKS  # acts on weights, gradients or the loss only: any task

    def __init__(self, lam: NonNegative = 1e-4):
        self.lam = lam

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return self.lam * sum(w.abs().sum() for w in decayable(model))


@register_regularizer("elastic_net")
class ElasticNet(Regularizer):
    """λ(α Σ|w| + (1 − α) Σw²) on ≥ 2-D weights (Zou & Hastie 2005)."""

    kind = "penalty"
    tasks = TASKS  # acts on weights, gradients or the loss only: any task

    def __init__(self, lam: NonNegative = 1e-4, l1_ratio: Probability = 0.5):
        self.lam = lam
        self.l1_ratio = l1_ratio

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        ws = decayable(model)
        l1 = sum(w.abs().sum() for w in ws)
        l2 = sum((w * w).sum() for w in ws)
        return self.lam * (self.l1_ratio * l1 + (1.0 - self.l1_ratio) * l2)
