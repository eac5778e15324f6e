"""IRMv1 (Arjovsky et al. 2019, "Invariant Risk Minimization", https://arxiv.org/abs/1907.02893, §3.1)."""

from __future__ import annotations

import torch
from typing import Annotated

from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Batch
from regbench.regularizers.env_risks import AnnealedPenalty, check_batch, env_masks, per_example_risk


def irm_penalty(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """IRMv1 of one environment: the squared gradient of its risk wrt a dummy scale w at 1.

    logits, y: (B, K). DomainBed's unbiased form: the product of the gradients on the even and
    the odd examples, E[∂R₁/∂w · ∂R₂/∂w] = (E ∂R/∂w)² (the paper's ‖∇_w R‖² is biased
    upwards by the gradient's variance). Differentiable (``create_graph``).
    """
    scale = torch.ones((), device=logits.device, requires_grad=True)
    grads = [
        torch.autograd.grad(per_example_risk(logits[half] * scale, y[half]).mean(), scale, create_graph=True)[0]
        for half in (slice(0, None, 2), slice(1, None, 2))
    ]
    return grads[0] * grads[1]


@register_regularizer("irm")
class IRM(AnnealedPenalty):
    """Mean over environments of the IRMv1 penalty, weight 1 until ``anneal_iters`` steps, then ``lam``.

    DomainBed's defaults (``irm_lambda`` 1e2, ``irm_penalty_anneal_iters`` 500); the paper's
    ColoredMNIST protocol uses λ ≈ 9.1e4 after 190 steps (suites/shift_baselines.yaml).
    """

    def __init__(self, lam: Annotated[float, Field(ge=0)] = 1e2, anneal_iters: Annotated[int, Field(ge=0)] = 500):
        self.lam, self.anneal_iters = lam, anneal_iters

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        logits, y, env = check_batch(batch)
        pen = torch.stack([irm_penalty(logits[m], y[m]) for m in env_masks(env)]).mean()
        return self.weight() * pen
