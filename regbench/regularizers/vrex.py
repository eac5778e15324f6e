"""V-REx (Krueger et al. 2021, "Out-of-Distribution Generalization via Risk Extrapolation", https://arxiv.org/abs/2003.00688)."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Batch
from regbench.regularizers.env_risks import AnnealedPenalty, AnnealHandling, env_risks


@register_regularizer("vrex")
class VREx(AnnealedPenalty):
    """λ · Var_e(R_e), the (biased) variance of the per-environment risks; annealed as IRM.

    DomainBed's defaults: ``vrex_lambda`` 1e1, ``vrex_penalty_anneal_iters`` 500, the
    variance ``((losses - mean) ** 2).mean()`` and an Adam reset at the switch (DomainBed
    b93c22a ``algorithms.py`` l.745-788). Options for the authors' ColoredMNIST scripts:

    - ``form: squared_difference``: (R₁ − R₂)², the REx code's ``rex_penalty``
      (capybaralet/REx_code_release ``InvariantRiskMinimization/colored_mnist/main.py``
      l.218-219, and alexrame/fishr ``coloredmnist/train_coloredmnist.py`` l.246). For two
      environments it is 4 × the variance (Var = ((R₁ − R₂)/2)²), so the same λ weighs it 4×
      more. It is defined for exactly two training environments and raises otherwise.
    - ``anneal_handling: paper``: no Adam reset, the loss divided by λ after the switch
      (REx ``main.py`` l.228-230; :class:`AnnealedPenalty`).

    The REx script's data loss is the *sum* of the two environments' NLLs (l.211,
    ``erm_amount * (loss1 + loss2)``), twice the mean regbench (and the Fishr script) uses.
    """

    def __init__(
        self,
        lam: Annotated[float, Field(ge=0)] = 1e1,
        anneal_iters: Annotated[int, Field(ge=0)] = 500,
        form: Literal["variance", "squared_difference"] = "variance",
        anneal_handling: AnnealHandling = "domainbed",
    ):
        self.lam, self.anneal_iters, self.form = lam, anneal_iters, form
        self.anneal_handling = anneal_handling

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        risks = env_risks(batch)  # (E,)
        if self.form == "squared_difference":
            if len(risks) != 2:
                raise ValueError(f"vrex form 'squared_difference' is (R1 - R2)^2, for 2 environments; got {len(risks)}")
            return self.weight() * (risks[0] - risks[1]).pow(2)
        return self.weight() * (risks - risks.mean()).pow(2).mean()
