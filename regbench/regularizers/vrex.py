"""V-REx (Krueger et al. 2021, "Out-of-Distribution Generalization via Risk Extrapolation", https://arxiv.org/abs/2003.00688)."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Batch
from regbench.regularizers.env_risks import AnnealedPenalty, env_risks


@register_regularizer("vrex")
class VREx(AnnealedPenalty):
    """λ · Var_e(R_e), the (biased) variance of the per-environment risks; annealed as IRM.

    DomainBed's defaults: ``vrex_lambda`` 1e1, ``vrex_penalty_anneal_iters`` 500.
    """

    def __init__(self, lam: Annotated[float, Field(ge=0)] = 1e1, anneal_iters: Annotated[int, Field(ge=0)] = 500):
        self.lam, self.anneal_iters = lam, anneal_iters

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        risks = env_risks(batch)  # (E,)
        return self.weight() * (risks - risks.mean()).pow(2).mean()
