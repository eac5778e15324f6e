"""Spectral decoupling (Pezeshki et al. 2021, "Gradient Starvation", https://arxiv.org/abs/2011.09468)."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Batch, Regularizer


@register_regularizer("sd")
class SpectralDecoupling(Regularizer):
    """λ · mean over the batch and the classes of the squared logits, as DomainBed's ``SD``.

    Penalizing the logits instead of the weights decouples the features' learning dynamics,
    so a strongly predictive (possibly spurious) feature does not starve the rest. Needs no
    environments. DomainBed's default λ (``sd_reg``) = 0.1. Registered as ``sd`` (DomainBed's name):
    ``examples/spectral_decoupling.py`` registers ``spectral_decoupling``, the same idea written
    as a plugin (λ/2 · ‖z‖², equal to this for K = 2); suites label this one ``spectral_decoupling``.
    """

    kind = "penalty"

    def __init__(self, lam: Annotated[float, Field(ge=0)] = 0.1):
        self.lam = lam

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return self.lam * batch.logits.pow(2).mean()  # logits (B, K) → scalar
