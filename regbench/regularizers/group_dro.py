"""Online GroupDRO (Sagawa et al. 2020, https://arxiv.org/abs/1911.08731, Algorithm 1), over training environments."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Batch, Regularizer
from regbench.regularizers.env_risks import check_batch, env_risks, per_example_risk


@register_regularizer("group_dro")
class GroupDRO(Regularizer):
    """The loss becomes Σ_e q_e R_e with q_e ← q_e · exp(η R_e), renormalized every step.

    The trainer's loss is the batch mean of the risks, so the penalty returned is
    Σ_e q_e R_e − mean_B(risk): the total is the weighted loss. Group weights start equal
    and live in the state saved with checkpoints. DomainBed's default η = 1e-2.
    """

    kind = "loss"
    needs_envs = True

    def __init__(self, eta: Annotated[float, Field(gt=0)] = 1e-2):
        self.eta = eta

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        logits, y, _ = check_batch(batch)
        risks = env_risks(batch)  # (E,)
        q = getattr(self, "_q", None)
        if q is None or len(q) != len(risks):
            q = torch.ones(len(risks), device=risks.device)
        q = q.to(risks.device) * torch.exp(self.eta * risks.detach())
        self._q = q / q.sum()
        return (self._q * risks).sum() - per_example_risk(logits, y).mean()
