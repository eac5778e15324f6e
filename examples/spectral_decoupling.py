"""Spectral decoupling as a regbench plugin (public API only).

Run:  regbench compare examples/spectral_decoupling.py:SpectralDecoupling --suite smoke --param lam=0.1
"""

from __future__ import annotations

import torch
from torch import nn

from regbench import Batch, Regularizer, register_regularizer


@register_regularizer("spectral_decoupling")
class SpectralDecoupling(Regularizer):
    """λ/2 · ‖logits‖² added to the loss (Pezeshki et al., "Gradient Starvation", arXiv:2011.09468).

    Penalizing the logits' norm instead of the weights' decouples the features' learning
    dynamics, so a strongly predictive (possibly spurious) feature does not starve the rest.
    """

    kind = "penalty"

    def __init__(self, lam: float = 0.1):
        self.lam = lam

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        # batch.logits: (B, K) → squared L2 norm per example (B,) → mean over the batch: a scalar
        return 0.5 * self.lam * batch.logits.pow(2).sum(dim=1).mean()
