"""IRMv1 (Arjovsky et al. 2019, "Invariant Risk Minimization", https://arxiv.org/abs/1907.02893, §3.1)."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Batch
from regbench.regularizers.env_risks import (
    AnnealedPenalty,
    AnnealHandling,
    check_batch,
    env_means,
    per_example_risk,
)


def scale_gradients(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂r_i(w · logits_i)/∂w at w = 1 for every example: logits, y (B, K) → (B,). Differentiable.

    One dummy scale per row and one ``autograd.grad`` for the whole batch: each row's risk
    depends on its own scale only, and the mean of these over an environment is the
    gradient of that environment's mean risk, IRMv1's ∂R_e/∂w.
    """
    scale = torch.ones(len(logits), 1, device=logits.device, dtype=logits.dtype, requires_grad=True)
    risk = per_example_risk(logits * scale, y).sum()
    return torch.autograd.grad(risk, scale, create_graph=True)[0].squeeze(1)


def irm_penalties(logits: torch.Tensor, y: torch.Tensor, batch: Batch, unbiased: bool = True) -> torch.Tensor:
    """IRMv1 of every environment, the squared gradient of its risk wrt a dummy scale w at 1: → (E,).

    logits, y: (B, K), split by ``batch``'s environments. ``unbiased`` (DomainBed's form): the
    product of the gradients on each environment's even and odd examples, whose expectation
    is (E ∂R/∂w)²; else the paper's (∂R/∂w)² over the whole environment, biased upwards by the
    gradient's variance but never negative: the product of the halves can be, and a large λ
    can then drive it below zero instead of towards it.
    """
    g = scale_gradients(logits, y)  # (B,)
    if not unbiased:
        return env_means(g, batch).pow(2)
    return env_means(g, batch, slice(0, None, 2)) * env_means(g, batch, slice(1, None, 2))


@register_regularizer("irm")
class IRM(AnnealedPenalty):
    """Mean over environments of the IRMv1 penalty, weight 1 until ``anneal_iters`` steps, then ``lam``.

    DomainBed's defaults (``irm_lambda`` 1e2, ``irm_penalty_anneal_iters`` 500, the unbiased
    estimator, Adam reset at the switch: DomainBed b93c22a ``algorithms.py`` l.581-634). The
    paper's ColoredMNIST protocol (facebookresearch/InvariantRiskMinimization
    ``code/colored_mnist/reproduce_paper_results.sh`` and ``main.py``) is, as options:

    - ``lam: 91257.18613115903``, ``anneal_iters: 190`` (full-batch steps);
    - ``unbiased: false``: the squared gradient over the whole environment (``main.py``
      l.107-111, ``torch.sum(grad**2)``);
    - ``anneal_handling: paper``: no Adam reset, and the whole loss divided by λ once the
      weight is above 1 (``main.py`` l.145-150; :class:`AnnealedPenalty`).

    With a 2-logit head the penalty equals the paper's on its single logit only when the
    logits are [0, z] (the ``mlp`` model's ``head: single_logit``): the cross-entropy of
    w · [0, z] is the BCE of w · z, so its gradient in w is the paper's.
    """

    def __init__(
        self,
        lam: Annotated[float, Field(ge=0)] = 1e2,
        anneal_iters: Annotated[int, Field(ge=0)] = 500,
        unbiased: bool = True,
        anneal_handling: AnnealHandling = "domainbed",
    ):
        self.lam, self.anneal_iters, self.unbiased = lam, anneal_iters, unbiased
        self.anneal_handling = anneal_handling

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        logits, y, _ = check_batch(batch)
        return self.weight() * irm_penalties(logits, y, batch, self.unbiased).mean()
