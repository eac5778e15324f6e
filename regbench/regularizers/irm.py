"""IRMv1 (Arjovsky et al. 2019, "Invariant Risk Minimization", https://arxiv.org/abs/1907.02893, §3.1)."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Batch
from regbench.regularizers.env_risks import AnnealedPenalty, check_batch, env_masks, per_example_risk


def scale_gradient(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂R(w · logits)/∂w at w = 1, a scalar: logits, y (B, K). Differentiable (``create_graph``)."""
    scale = torch.ones((), device=logits.device, requires_grad=True)
    return torch.autograd.grad(per_example_risk(logits * scale, y).mean(), scale, create_graph=True)[0]


def irm_penalty(logits: torch.Tensor, y: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """IRMv1 of one environment: the squared gradient of its risk wrt a dummy scale w at 1.

    logits, y: (B, K). ``unbiased`` (DomainBed's form): the product of the gradients on the
    even and the odd examples, whose expectation is (E ∂R/∂w)²; else the paper's (∂R/∂w)²
    over the whole environment, biased upwards by the gradient's variance but never
    negative: with full batches the halves never change, and a large λ can then drive
    the product below zero instead of towards it.
    """
    if not unbiased:
        return scale_gradient(logits, y).pow(2)
    return scale_gradient(logits[0::2], y[0::2]) * scale_gradient(logits[1::2], y[1::2])


@register_regularizer("irm")
class IRM(AnnealedPenalty):
    """Mean over environments of the IRMv1 penalty, weight 1 until ``anneal_iters`` steps, then ``lam``.

    DomainBed's defaults (``irm_lambda`` 1e2, ``irm_penalty_anneal_iters`` 500, the unbiased
    estimator); the paper's ColoredMNIST protocol uses λ ≈ 9.1e4 after 190 full-batch steps
    and the squared gradient (``unbiased: false``; suites/shift_baselines.yaml).
    """

    def __init__(
        self,
        lam: Annotated[float, Field(ge=0)] = 1e2,
        anneal_iters: Annotated[int, Field(ge=0)] = 500,
        unbiased: bool = True,
    ):
        self.lam, self.anneal_iters, self.unbiased = lam, anneal_iters, unbiased

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        logits, y, env = check_batch(batch)
        pen = torch.stack([irm_penalty(logits[m], y[m], self.unbiased) for m in env_masks(env, batch.env_ids)]).mean()
        return self.weight() * pen
